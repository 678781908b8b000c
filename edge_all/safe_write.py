"""Write a small file safely: whole or not at all, private when it holds a secret, and a full disk as
the product's one-line StorageFull, never an OSError traceback.

Every small file edge-all writes before or beside its main work (the capture lock, the station's
password, a bundle's labels and manifest, a CSV export, and the rooms to come: the site profile, the
outbox) goes through here, so a card that is 100% full at start-up says `error: PATH: disk full, ...`
with exit code 1, exactly as a capture that fills the disk later does.

- `write_file(path, data, what)`: the usual case. The bytes go to a hidden temporary file in the same
  folder, are fsynced, renamed over `path` (atomic on POSIX) and the folder fsynced, so a reader, a
  power cut or a full disk leaves the old file or the new one, never half of one. `private=True`
  creates the temporary file 0600 before anything is written (a password hash is never readable by
  others, not even for a moment).
- `replacing(path, what)`: the same, for a writer that streams (a CSV of many rows).
- `write_errors(path, what)`: only the error mapping, for a file that must keep its inode (a lock
  file is held by flock while it is written, so it cannot be replaced).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from edge_all.errors import EdgeAllError, FileError, StorageFull

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether an OSError says the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def write_failure(path: str | Path, what: str, exc: OSError) -> EdgeAllError:
    """The one-line error for an OSError met while writing `what` at `path`."""
    reason = exc.strerror or str(exc)
    if is_disk_full(exc):
        return StorageFull(f"{path}: disk full, cannot write {what} ({reason})")
    return FileError(f"{path}: cannot write {what} ({reason})")


@contextlib.contextmanager
def write_errors(path: str | Path, what: str) -> Iterator[None]:
    """Turn an OSError raised in the block into write_failure's one line."""
    try:
        yield
    except OSError as exc:
        raise write_failure(path, what, exc) from None


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def replacing(
    path: str | Path, what: str, *, private: bool = False, text: bool = True, newline: str | None = None
) -> Iterator[IO]:
    """A handle on a new temporary file that replaces `path` when the block ends without an error.

    The folder is created if needed; on any failure the temporary file is removed and `path` is left
    as it was. Text handles are UTF-8 (`newline` as for open(); CSV writers pass "").
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with write_errors(path, what):
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
        try:
            mode = "w" if text else "wb"
            encoding = "utf-8" if text else None
            with os.fdopen(descriptor, mode, encoding=encoding, newline=newline if text else None) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        _fsync_folder(path.parent)


def write_file(path: str | Path, data: str | bytes, what: str, *, private: bool = False) -> None:
    """Replace `path` with `data` (text is written as UTF-8) atomically; see the module doc."""
    with replacing(path, what, private=private, text=isinstance(data, str)) as handle:
        handle.write(data)
