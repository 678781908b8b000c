"""The errors convert raises for anything a user can fix (bad run dir, target, options, data)."""

from edge_all.errors import EdgeAllError
from edge_all.exit_codes import ExitCode


class ConvertError(EdgeAllError):
    """A conversion that cannot go ahead; the message is one line naming the file and the problem."""


class ConvertOptionError(ConvertError):
    """An option combination convert cannot honour: a bad command line."""

    exit_code = ExitCode.USAGE


class AccuracyGateFailed(ConvertError):
    """The converted model lost more accuracy than allowed: no bundle was published."""

    exit_code = ExitCode.ACCURACY_GATE_FAILED
