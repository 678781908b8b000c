"""The one error type every part of edge-all raises for what a user can fix, with its exit code.

Each domain error (a bad image, bundle, dataset, run dir, camera...) derives from EdgeAllError, its
message is one line naming the file and the problem, and `edge-all` turns it into that one
`error: ...` line and the exit code, in one place (edge_all.cli.main). Anything else is a bug and
ends in a traceback. Standard library only: training/ and convert/ import it too.
"""

from __future__ import annotations

from typing import ClassVar

from edge_all.exit_codes import ExitCode


class EdgeAllError(Exception):
    """Something the user can fix; the message says what, in one line."""

    exit_code: ClassVar[ExitCode] = ExitCode.ERROR


class UsageError(EdgeAllError):
    """Options (on the command line or in a file it names) that ask for something impossible."""

    exit_code = ExitCode.USAGE


class FileError(EdgeAllError):
    """A file or folder that cannot be read or written; the message names it."""


class StorageFull(EdgeAllError):
    """The disk (or the database's size limit) is full; whatever was being written is not."""
