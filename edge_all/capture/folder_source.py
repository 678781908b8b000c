"""Watch a folder where a microscope camera's software drops images; each new image once.

A file is taken only after its size and modification time have stayed the same for
`settle_seconds`, and temporary names (".x", "~x", "x.tmp", "x.part", ...) are never taken, so a
frame is not classified while the camera software is still writing it. A file that still cannot be
read once settled (its writer paused longer than the settle time) is read again when it changes,
and recorded as an error only after it has stayed unchanged and unreadable for 10 settle times.
Polling (not inotify) keeps this working on network shares and every OS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from edge_all.capture.options import DEFAULT_SETTLE_SECONDS
from edge_all.capture.pixels import shrink
from edge_all.capture.sources import Frame, FrameSource, SourceUnavailable
from edge_all.runtime.images import IMAGE_SUFFIXES, ImageError, read_rgb
from edge_all.safe_text import utf8_safe

# How long an unreadable file must stay unchanged before it is recorded, in settle times.
UNREADABLE_GRACE_FACTOR = 10
Signature = tuple[int, int]  # (size, mtime_ns): a file that changes is still being written
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")


def is_temporary(name: str) -> bool:
    lower = name.lower()
    return lower.startswith((".", "~")) or lower.endswith(TEMP_SUFFIXES) or lower.endswith("~")


class FolderSource(FrameSource):
    def __init__(
        self,
        spec: str,
        folder: Path,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        grace_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(spec)
        self.folder: Path = folder
        self.settle_seconds = settle_seconds
        self._clock = clock  # measures settle_seconds; a test passes its own to step through time
        # An unreadable file is recorded only once it has stayed unchanged this long: its writer
        # may only have paused (a slow network share, a camera program between two writes).
        self.grace_seconds = (
            UNREADABLE_GRACE_FACTOR * settle_seconds if grace_seconds is None else grace_seconds
        )
        # Names already handed out (survives a reconnect), as recorded: utf8_safe, like the origins.
        self._taken: set[str] = set()
        self._pending: dict[str, tuple[Signature, float]] = {}  # name -> signature, since
        self._unreadable: dict[str, tuple[Signature, float]] = {}  # name -> signature, first failure
        self._errored: dict[str, Signature] = {}  # recorded as errors: read again if they change
        self._count = 0

    def open(self) -> None:
        if not self.folder.is_dir():
            what = "is not a folder" if self.folder.exists() else "no such folder"
            raise SourceUnavailable(f"folder {self.folder}: {what}")

    def read(self) -> Frame | None:
        name = self._next_settled()
        if name is None:
            return None
        self._pending.pop(name, None)
        path = self.folder / name
        native_width = None
        try:
            # A large file is shrunk once, here; the file itself stays the record of the field.
            # A JPEG too large to decode whole comes reduced: its native width is the file's.
            whole, reduction = read_rgb(path)
            rgb, error = shrink(whole, self.request.min_size), None
            native_width = whole.shape[1] * reduction
        except ImageError as exc:
            if self._still_in_grace(name, path):
                return None  # looked at again when it changes, or when the grace time is over
            rgb, error = None, utf8_safe(str(exc))
            self._errored[name] = _signature(path)
        self._taken.add(utf8_safe(name))
        self._unreadable.pop(name, None)
        index, self._count = self._count, self._count + 1
        # A name that is not UTF-8 is recorded with \xNN escapes (edge_all.safe_text).
        origin = utf8_safe(str(path))
        return Frame(index=index, origin=origin, rgb=rgb, file=path, error=error, native_width=native_width)

    def skip(self, paths: Iterable[str | Path]) -> int:
        """Never hand out these files (e.g. recorded before a restart); returns how many are here."""
        folder = Path(utf8_safe(str(self.folder)))
        names = {Path(p).name for p in paths if Path(p).parent == folder}
        self._taken |= names
        return len(names)

    def close(self) -> None:
        self._pending.clear()  # files may change while we are away; settle them again

    def _still_in_grace(self, name: str, path: Path) -> bool:
        """Whether an unreadable file should wait (its writer may resume) rather than be recorded."""
        now = self._clock()
        signature = _signature(path)
        first = self._unreadable.get(name)
        if first is None or first[0] != signature:
            self._unreadable[name] = first = (signature, now)
        return now - first[1] < self.grace_seconds

    def _next_settled(self) -> str | None:
        """The oldest image whose size and mtime have not changed for settle_seconds."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            raise SourceUnavailable(f"folder {self.folder}: has disappeared") from None
        except OSError as exc:
            raise SourceUnavailable(f"folder {self.folder}: cannot be listed ({exc.strerror})") from None
        now = self._clock()
        ready: list[tuple[int, str]] = []
        for entry in entries:
            name = entry.name
            if is_temporary(name) or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                if not entry.is_file():
                    continue
                stat = entry.stat()
            except OSError:  # removed between listing and stat
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            if utf8_safe(name) in self._taken:
                if self._errored.get(name, signature) == signature:
                    continue
                # Recorded as unreadable, and changed since: its writer came back. Read it again.
                del self._errored[name]
                self._taken.discard(utf8_safe(name))
            unreadable = self._unreadable.get(name)
            if unreadable is not None:
                if unreadable[0] != signature:
                    del self._unreadable[name]  # changed: settle it again, then read it again
                elif now - unreadable[1] >= self.grace_seconds:
                    ready.append((stat.st_mtime_ns, name))  # one last try, then it is recorded
                    continue
                else:
                    continue
            seen = self._pending.get(name)
            if seen is None or seen[0] != signature:
                self._pending[name] = (signature, now)
            elif stat.st_size > 0 and now - seen[1] >= self.settle_seconds:
                ready.append((stat.st_mtime_ns, name))
        return min(ready)[1] if ready else None


def _signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)
