"""Turn command-line PATH arguments (files, folders, globs) into the list of images to classify.

A problem with one argument (a missing file, a glob matching nothing, a directory named like an
image) becomes one message and never stops the rest of the batch.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge_all.images import IMAGE_SUFFIXES

_GLOB_CHARS = frozenset("*?[")


@dataclass
class Inputs:
    """The files to classify, in a stable order, and one message per argument that failed."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)  # (path, one-line message)

    def problem(self, path: Path | str, what: str) -> None:
        if all(Path(path) != seen for seen, _ in self.problems):
            self.problems.append((Path(path), f"{path}: {what}"))


def _looks_like_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _walk(folder: Path, found: Inputs) -> None:
    """Images under a folder, recursively, sorted; directories named like images are reported."""
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        for name in sorted(dirs):
            if _looks_like_image(Path(name)):
                found.problem(root_path / name, "is a directory, not an image")
        dirs[:] = sorted(d for d in dirs if not _looks_like_image(Path(d)) and not d.startswith("."))
        found.files.extend(root_path / name for name in sorted(files) if _looks_like_image(Path(name)))


def _add(path: Path, found: Inputs) -> None:
    if path.is_dir():
        if _looks_like_image(path):
            found.problem(path, "is a directory, not an image")
        else:
            _walk(path, found)
    elif path.exists():
        found.files.append(path)
    else:
        found.problem(path, "no such file or directory")


def expand_inputs(arguments: list[str]) -> Inputs:
    """Files as given, folders recursively (image suffixes only), globs (`**` allowed) expanded."""
    found = Inputs()
    for argument in arguments:
        if not Path(argument).exists() and _GLOB_CHARS & set(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                found.problem(argument, "no files match this pattern")
            for match in matches:
                _add(Path(match), found)
        else:
            _add(Path(argument), found)
    seen: set[Path] = set()
    unique = []
    for path in found.files:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    found.files = unique
    return found
