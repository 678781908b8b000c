"""Fields' pictures, found only through capture ids the database knows, never a path in a request.

A capture row names its frame (`image_path`) and heat map (`heatmap_path`). Even those recorded
paths are served only when the file really lies under the station's frames folder or the folder a
folder source watched (as its session recorded it), after symlinks are resolved: a damaged or
hand-edited row cannot make the station hand out /etc/passwd. Anything else is a 404.
Thumbnails are made with Pillow and kept in a small in-memory cache (a capture never changes).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PIL import Image

from edge_all.errors import FileError
from edge_all.regular_files import regular_file_inside
from edge_all.runtime.images import IMAGE_SUFFIXES, ImageError, open_image

THUMB_SIZE = 224  # pixels, the longer side
THUMB_CACHE = 512  # thumbnails kept (about 10 KB each)
KINDS = {"image": "image_path", "heatmap": "heatmap_path"}


def allowed_roots(frames_dir: Path | None, session: dict[str, Any] | None) -> list[Path]:
    """Folders whose files may be served for a capture of this session."""
    roots = []
    if frames_dir is not None:
        roots.append(frames_dir)
    source = (session or {}).get("source") or ""
    if source.startswith("folder:"):
        roots.append(Path(source.partition(":")[2]))
    return [root.resolve() for root in roots]


def servable_file(recorded: str | None, roots: list[Path]) -> Path | None:
    """The recorded file, when it is an image under one of `roots`; otherwise None."""
    if not recorded:
        return None
    try:
        path = regular_file_inside(recorded, roots, "picture")
    except FileError:
        return None
    return path if path.suffix.lower() in IMAGE_SUFFIXES else None


class Thumbnails:
    def __init__(self, size: int = THUMB_SIZE, limit: int = THUMB_CACHE) -> None:
        self.size = size
        self.limit = limit
        self._cache: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, capture_id: int, kind: str, path: Path) -> bytes | None:
        """A JPEG thumbnail of `path`, or None when the file cannot be read as an image."""
        key = (capture_id, kind)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            image = open_image(path)
        except ImageError:
            return None
        image.thumbnail((self.size, self.size), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=82)
        data = buffer.getvalue()
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self.limit:
                self._cache.popitem(last=False)
        return data
