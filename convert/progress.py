"""Progress bars on stderr, so stdout stays clean for the table or `--json`."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import typer

T = TypeVar("T")


def progress(items: Iterable[T], label: str, length: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Yield `items` while drawing a bar on stderr (click draws nothing when stderr is not a terminal)."""
    if not enabled:
        yield from items
        return
    with typer.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar
