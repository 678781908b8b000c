"""Open and read only regular files: never a FIFO, a device or a socket, and small files only so big.

A labels file that is a FIFO would hang `info` for ever, one that links to /dev/zero would be read
until memory runs out, and merely opening some devices has side effects. So the path is stat()ed
first (nothing but a regular file is ever opened), opened without blocking, and fstat()ed again:
it must still be the same regular file. Small files (labels, JSON manifests and configs) are read
up to a size limit. Errors are one line naming the file, raised as the caller's own error type.

A file that must lie inside a folder (a bundle's files, the station's pictures) is checked with
`regular_file_inside`: links are resolved, and the real file must be a regular file under the
folder's own real path, so a link to /etc/passwd whose content someone made match is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from edge_all.errors import EdgeAllError, FileError

# Labels of a 21k-class model are about 400 kB; bundle.json and quality configs are a few kB.
SMALL_FILE_LIMIT = 4 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file_inside(
    path: str | Path, roots: Path | Iterable[Path], what: str = "file", error: type[EdgeAllError] = FileError
) -> Path:
    """The real path of PATH (links resolved), which must be a regular file inside one of ROOTS."""
    roots = [roots] if isinstance(roots, Path) else list(roots)
    try:
        real = Path(path).resolve(strict=True)
        folders = [root.resolve(strict=True) for root in roots]
        mode = os.stat(real).st_mode
    except (OSError, RuntimeError) as exc:  # missing, a broken link, a loop of links
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error(f"{path}: cannot read {what} ({reason})") from None
    if not stat.S_ISREG(mode):
        raise error(f"{path}: {what} is {_kind(mode)}, not a regular file")
    if not any(real.is_relative_to(folder) for folder in folders):
        where = " or ".join(str(folder) for folder in folders) or "no folder"
        raise error(f"{path}: {what} leads to {real}, outside {where}; refusing it")
    return real


def open_regular(path: str | Path, what: str = "file", error: type[EdgeAllError] = FileError) -> BinaryIO:
    """Open PATH for binary reading if (and only if) it is a regular file; links are followed."""
    try:
        before = os.stat(path)
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(before.st_mode):
        raise error(f"{path}: {what} is {_kind(before.st_mode)}, not a regular file")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    after = os.fstat(fd)
    if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise error(f"{path}: {what} was replaced while it was being opened; try again")
    return os.fdopen(fd, "rb")


def read_regular(
    path: str | Path,
    what: str = "file",
    error: type[EdgeAllError] = FileError,
    limit: int = SMALL_FILE_LIMIT,
) -> bytes:
    """The whole content of a regular file of at most `limit` bytes."""
    with open_regular(path, what, error) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{path}: {what} is larger than {limit:,} bytes; refusing to read it")
    return data


def read_regular_text(
    path: str | Path,
    what: str = "file",
    error: type[EdgeAllError] = FileError,
    limit: int = SMALL_FILE_LIMIT,
) -> str:
    """A small regular file's UTF-8 text (a leading byte-order mark is dropped)."""
    data = read_regular(path, what, error, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {what} is not UTF-8 text (byte {exc.start})") from None
