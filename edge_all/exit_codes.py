"""Exit codes shared by every `edge-all` command (documented in `edge-all --help`)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # bad data, model, bundle or environment: nothing useful was done
    USAGE = 2  # bad command line (typer's own code)
    SOME_INPUTS_FAILED = 3  # a batch finished, but some files could not be read
    ACCURACY_GATE_FAILED = 4  # convert: the converted model lost too much accuracy; no bundle


EPILOG = (
    "Exit codes: 0 ok; 1 error (bad data, model, bundle or camera); 2 bad command line; "
    "3 finished but some inputs failed; 4 convert's accuracy gate failed (no bundle written)."
)
