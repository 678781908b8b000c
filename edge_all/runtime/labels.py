"""Class labels files, in the convention pycoral and TFLite model zoos use."""

from __future__ import annotations

import re
from pathlib import Path

from edge_all.errors import EdgeAllError
from edge_all.regular_files import read_regular_text
from edge_all.safe_write import write_file

_INDEXED = re.compile(r"^\s*(\d+)[\s:]+(.+?)\s*$")


class LabelsError(EdgeAllError):
    """A labels file that cannot be read as one label per output."""


def read_labels(path: str | Path) -> list[str]:
    """Read `label` or `index label` lines (pycoral's format) into a list indexed by output.

    Index 0 may be a background class (as in Coral's ImageNet labels); it is kept, since the
    model has an output for it.
    """
    path = Path(path)
    text = read_regular_text(path, "labels file", LabelsError)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise LabelsError(f"{path}: labels file is empty")
    matches = [_INDEXED.match(line) for line in lines]
    if not all(matches):
        return [line.strip() for line in lines]
    by_index = {int(m.group(1)): m.group(2) for m in matches if m}
    expected = set(range(len(by_index)))
    if set(by_index) != expected or len(by_index) != len(lines):
        raise LabelsError(f"{path}: indexed labels must number 0..N-1 once each")
    return [by_index[i] for i in range(len(by_index))]


def write_labels(path: str | Path, labels: list[str]) -> None:
    """Write one label per line, in output order."""
    write_file(path, "".join(f"{label}\n" for label in labels), "the labels file")
