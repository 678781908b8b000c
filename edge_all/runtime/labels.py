"""Class labels files, in the convention pycoral and TFLite model zoos use."""

from __future__ import annotations

import re
from pathlib import Path

from edge_all.errors import EdgeAllError
from edge_all.regular_files import read_regular_text
from edge_all.safe_text import printable
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
    return parse_labels(read_regular_text(path, "labels file", LabelsError), str(path))


def parse_labels(text: str, where: str) -> list[str]:
    """A labels file's text (either convention) as its labels; LabelsError naming `where`."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise LabelsError(f"{where}: labels file is empty")
    matches = [_INDEXED.match(line) for line in lines]
    if not all(matches):
        return [line.strip() for line in lines]
    by_index = {int(m.group(1)): m.group(2) for m in matches if m}
    expected = set(range(len(by_index)))
    if set(by_index) != expected or len(by_index) != len(lines):
        raise LabelsError(f"{where}: indexed labels must number 0..N-1 once each")
    return [by_index[i] for i in range(len(by_index))]


def labels_text(labels: list[str], where: str = "labels file") -> str:
    """The text of a labels file that reads back as exactly `labels`: one label a line, or `index label`
    lines when every label would otherwise be read as an index and a label ("0 Benign").

    A label no line can hold (empty, a line break, space at an end, a lone surrogate) is refused here,
    when the bundle is made, not by the device that would read it back as something else.
    """
    plain = "".join(f"{label}\n" for label in labels)
    for text in (plain, "".join(f"{i} {label}\n" for i, label in enumerate(labels))):
        if _reads_back(text, labels):
            return text
    bad = next((label for label in labels if not _reads_back(f"0 {label}\n", [label])), None)
    problem = "no labels" if not labels else f"label {printable(repr(bad))} cannot be written one to a line"
    raise LabelsError(f"{where}: {problem}; rename it" if bad is not None else f"{where}: {problem}")


def _reads_back(text: str, labels: list[str]) -> bool:
    """Whether `text`, written as UTF-8 and read as read_labels reads, gives `labels`."""
    try:
        return parse_labels(text.encode("utf-8").decode("utf-8-sig"), "labels") == labels
    except (LabelsError, UnicodeEncodeError):
        return False


def write_labels(path: str | Path, labels: list[str]) -> None:
    """Write the labels in output order, as labels_text says."""
    write_file(path, labels_text(labels, str(path)), "the labels file")
