"""Watch a folder where a microscope camera's software drops images; each new image once.

A file is taken only after its size and modification time have stayed the same for
`settle_seconds`, and temporary names (".x", "~x", "x.tmp", "x.part", ...) are never taken, so a
frame is not classified while the camera software is still writing it. Polling (not inotify)
keeps this working on network shares and every OS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from edge_all.capture.options import DEFAULT_SETTLE_SECONDS
from edge_all.capture.pixels import shrink
from edge_all.capture.sources import Frame, FrameSource, SourceUnavailable
from edge_all.images import IMAGE_SUFFIXES, ImageError, load_rgb

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(spec)
        self.folder: Path = folder
        self.settle_seconds = settle_seconds
        self._clock = clock  # measures settle_seconds; a test passes its own to step through time
        self._taken: set[str] = set()  # names already handed out (survives a reconnect)
        self._pending: dict[str, tuple[tuple[int, int], float]] = {}  # name -> (size, mtime), since
        self._count = 0

    def open(self) -> None:
        if not self.folder.is_dir():
            what = "is not a folder" if self.folder.exists() else "no such folder"
            raise SourceUnavailable(f"folder {self.folder}: {what}")

    def read(self) -> Frame | None:
        name = self._next_settled()
        if name is None:
            return None
        self._taken.add(name)
        self._pending.pop(name, None)
        path = self.folder / name
        index, self._count = self._count, self._count + 1
        try:
            # A large file is shrunk once, here; the file itself stays the record of the field.
            return Frame(
                index=index, origin=str(path), rgb=shrink(load_rgb(path), self.request.min_size), file=path
            )
        except ImageError as exc:
            return Frame(index=index, origin=str(path), file=path, error=str(exc))

    def skip(self, paths: Iterable[str | Path]) -> int:
        """Never hand out these files (e.g. recorded before a restart); returns how many are here."""
        names = {Path(p).name for p in paths if Path(p).parent == self.folder}
        self._taken |= names
        return len(names)

    def close(self) -> None:
        self._pending.clear()  # files may change while we are away; settle them again

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
            if name in self._taken or is_temporary(name) or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                if not entry.is_file():
                    continue
                stat = entry.stat()
            except OSError:  # removed between listing and stat
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            seen = self._pending.get(name)
            if seen is None or seen[0] != signature:
                self._pending[name] = (signature, now)
            elif stat.st_size > 0 and now - seen[1] >= self.settle_seconds:
                ready.append((stat.st_mtime_ns, name))
        return min(ready)[1] if ready else None
