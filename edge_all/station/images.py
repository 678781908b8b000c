"""Fields' pictures, found only through capture ids the database knows, never a path in a request.

A capture row names its frame (`image_path`) and heat map (`heatmap_path`). Even those recorded
paths are served only when the file really lies under the station's frames folder or the folder a
folder source watched (as its session recorded it), after symlinks are resolved: a damaged or
hand-edited row cannot make the station hand out /etc/passwd. Anything else is a 404.
Thumbnails and the cell gallery's crops are made with Pillow on request and kept in a small in-memory
cache (a capture and its cells never change).
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
from edge_all.runtime.images import IMAGE_SUFFIXES, ImageError, read_image

THUMB_SIZE = 224  # pixels, the longer side
THUMB_CACHE = 512  # thumbnails and crops kept (about 10 KB each)
CROP_SIZE = 128  # pixels, the longer side of a white cell's crop in the gallery
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
        found = self._lookup(key)
        if found is not None:
            return found
        try:
            image = read_image(path).image
        except ImageError:
            return None
        image.thumbnail((self.size, self.size), Image.Resampling.BILINEAR)
        return self._keep({key: _jpeg(image)})[key]

    def cell(self, cell_id: int, path: Path, boxes: dict[int, tuple[int, int, int, int]]) -> bytes | None:
        """A JPEG of one white cell: the boxed region of its field (cell_crop). `boxes`: every cell of
        that field by id, all cut from one decode of the picture (a gallery asks for them all); None
        when the picture cannot be read."""
        key = (cell_id, "cell")
        found = self._lookup(key)
        if found is not None:
            return found
        try:
            decoded = read_image(path)
        except ImageError:
            return None
        crops = {
            (other, "cell"): _jpeg(cell_crop(decoded.image, box, decoded.reduction))
            for other, box in boxes.items()
        }
        return self._keep(crops).get(key)

    def _lookup(self, key: tuple[int, str]) -> bytes | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def _keep(self, pictures: dict[tuple[int, str], bytes]) -> dict[tuple[int, str], bytes]:
        with self._lock:
            for key, data in pictures.items():
                self._cache[key] = data
                self._cache.move_to_end(key)
            while len(self._cache) > self.limit:
                self._cache.popitem(last=False)
        return pictures


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def cell_crop(
    image: Image.Image, box: tuple[int, int, int, int], reduction: int = 1, size: int = CROP_SIZE
) -> Image.Image:
    """The boxed region of a field (`box`: x0, y0, x1, y1 in the stored frame's pixels, x1 and y1
    exclusive; `reduction`: how much smaller the frame was decoded), scaled to `size` on its longer
    side, so every cell of the gallery is shown at one size whatever the microscope's scale."""
    x0, y0, x1, y1 = (round(v / reduction) for v in box)
    width, height = image.size
    x0, x1 = sorted((min(max(x0, 0), width), min(max(x1, 0), width)))
    y0, y1 = sorted((min(max(y0, 0), height), min(max(y1, 0), height)))
    if x1 - x0 < 1 or y1 - y0 < 1:  # a box wholly outside the picture: its nearest pixel
        x0, y0 = min(x0, width - 1), min(y0, height - 1)
        x1, y1 = x0 + 1, y0 + 1
    region = image.crop((x0, y0, x1, y1))
    scale = size / max(region.size)
    shape = (max(1, round(region.width * scale)), max(1, round(region.height * scale)))
    return region.resize(shape, Image.Resampling.LANCZOS)
