"""Turn command-line PATH arguments (files, folders, globs) into the list of images to classify.

A problem with one argument (a missing file, a glob matching nothing, a directory named like an
image, a symbolic link that loops or leads nowhere, a folder that cannot be read) becomes one
message and never stops the rest of the batch.
"""

from __future__ import annotations

import errno
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge_all.runtime.images import IMAGE_SUFFIXES

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


def _link_problem(path: Path) -> str | None:
    """What is wrong with a path whose target cannot be reached (a looping or broken link), if anything."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link leads back to itself)"
        if os.path.islink(path):
            return f"broken symbolic link (to {os.readlink(path)})"
        return f"cannot be read ({exc.strerror or exc})"
    return None


def _walk(folder: Path, found: Inputs) -> None:
    """Images under a folder, recursively, sorted; directories named like images are reported."""

    def unreadable(error: OSError) -> None:
        found.problem(Path(error.filename or folder), f"cannot be read ({error.strerror or error})")

    # Symbolic links to folders are not followed, so a link back up the tree cannot loop.
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        root_path = Path(root)
        for name in sorted(dirs):
            if _looks_like_image(Path(name)):
                found.problem(root_path / name, "is a directory, not an image")
        dirs[:] = sorted(d for d in dirs if not _looks_like_image(Path(d)) and not d.startswith("."))
        for name in sorted(files):
            if not _looks_like_image(Path(name)):
                continue
            problem = _link_problem(root_path / name)
            if problem:
                found.problem(root_path / name, problem)
            else:
                found.files.append(root_path / name)


def _via_link(match: str, pattern: str) -> bool:
    """Whether `**` reached this match through a symbolic link to a folder, which is not followed:
    glob would go round a link back up the tree until the kernel refuses, finding everything
    dozens of times."""
    if "**" not in pattern:
        return False
    parts = Path(pattern).parts
    literal = next((i for i, part in enumerate(parts) if _GLOB_CHARS & set(part)), len(parts))
    found = Path(match).parts
    # The folders the glob itself walked into: below the pattern's literal start, above the match.
    return any(os.path.islink(Path(*found[: i + 1])) for i in range(literal, len(found) - 1))


def _add(path: Path, found: Inputs) -> None:
    problem = _link_problem(path) if os.path.islink(path) else None
    if problem:
        found.problem(path, problem)
    elif path.is_dir():
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
            matches = [m for m in sorted(glob.glob(argument, recursive=True)) if not _via_link(m, argument)]
            if not matches:
                found.problem(argument, "no files match this pattern")
            for match in matches:
                _add(Path(match), found)
        else:
            _add(Path(argument), found)
    seen: set[Path] = set()
    unique = []
    for path in found.files:
        key = Path(os.path.realpath(path))  # never raises, even for a link that loops
        if key not in seen:
            seen.add(key)
            unique.append(path)
    found.files = unique
    return found
