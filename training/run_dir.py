"""The run dir: what `edge-all train` writes and `evaluate` and `convert` read.

Standard library only, so a command can check a run dir in milliseconds, before Keras loads.
"""

from __future__ import annotations

from edge_all.errors import EdgeAllError


class RunError(EdgeAllError):
    """A run dir that cannot be used (missing, incomplete, or from an unknown format)."""
