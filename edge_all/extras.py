"""Optional extras: whether their packages are here, and the one line that says how to get them.

`pip install edge-all` is the device runtime. Training, evaluation and conversion need the `train`
extra, USB cameras and video files the `camera` extra; a command that lacks one says so in a line,
before it does anything, instead of failing on an ImportError deep inside.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from types import ModuleType

from edge_all.errors import EdgeAllError

# pip extra -> what the message calls it
EXTRAS = {"train": "training", "camera": "camera", "hub": "hospital hub"}


class MissingExtra(EdgeAllError):
    """A command or source that needs an optional extra this install lacks."""

    def __init__(self, user: str, extra: str) -> None:
        super().__init__(f"{user} needs the {EXTRAS[extra]} extra: pip install 'edge-all[{extra}]'")


def installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing it (a blocked import counts as absent)."""
    if sys.modules.get(module) is not None:
        return True
    if module in sys.modules:  # set to None: deliberately blocked
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_extra(extra: str, modules: Iterable[str], user: str) -> None:
    """Raise MissingExtra unless every one of `modules` (what `user` imports from `extra`) is installed."""
    if not all(installed(module) for module in modules):
        raise MissingExtra(user, extra)


def import_extra(module: str, extra: str, user: str) -> ModuleType:
    """Import one module of an extra, or raise MissingExtra."""
    require_extra(extra, (module,), user)
    return importlib.import_module(module)
