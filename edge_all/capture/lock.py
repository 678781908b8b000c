"""One capture at a time per source and sample: a second one refuses instead of classifying twice.

Two captures of the same folder for the same sample would each take every image (the skip of
images already recorded is read once, at the start). So a capture holds an exclusive flock(2) on
a lock file beside the database, named by a hash of (database, source, sample id), for as long as
it runs. flock belongs to the open file, so the kernel releases it when the process ends in any
way (kill -9, power cut): a crash never leaves a stale lock, and two threads of one process (a
station running two captures) exclude each other too.

So that lock files do not pile up (one per sample), the holder deletes its file when it finishes,
under a second lock, `.results.db.lock`, which every taker also holds while it creates and locks
its file: nobody can lock a file that is being deleted. A file left by a crash is simply reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from edge_all.errors import EdgeAllError
from edge_all.safe_write import write_errors


class CaptureBusy(EdgeAllError):
    """Another capture is already recording: the same source and sample into the same database (this
    lock), or, at a station, any slide (its one camera). Exit code 1, as `--help` and docs/capture.md
    say; the station shows it on the New slide page."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """Hold an exclusive flock on PATH (created if needed), waiting for it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def lock_path(db: Path, source_key: str, sample_id: str | None) -> Path:
    key = "\0".join((source_key, "" if sample_id is None else f"s:{sample_id}"))
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return db.with_name(f".{db.name}.capture-{digest}.lock")


def _take(db: Path, path: Path, what: str) -> int:
    """Lock `path` and write the holder into it (a lock file keeps its inode: it is not replaced)."""
    with _locked(db.with_name(f".{db.name}.lock")):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise CaptureBusy(
                f"{db}: another capture ({holder}) is already recording {what}; "
                "stop it first, or use another sample id"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"process {os.getpid()}\n".encode())
        except OSError:
            os.close(fd)  # releases the lock
            raise
    return fd


@contextlib.contextmanager
def capture_lock(db: Path, source_key: str, sample_id: str | None, what: str) -> Iterator[None]:
    """Hold the lock of (db, source, sample) while the block runs, or raise CaptureBusy at once.

    `what` describes the capture in the refusal ("folder:drop, sample S1").
    """
    path = lock_path(db, source_key, sample_id)
    # A full disk at start-up is StorageFull's one line, as it is later in a capture.
    with write_errors(path, "the capture lock"):
        db.parent.mkdir(parents=True, exist_ok=True)
        fd = _take(db, path, what)
    try:
        yield
    finally:
        with _locked(db.with_name(f".{db.name}.lock")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)
