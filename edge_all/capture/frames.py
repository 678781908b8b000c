"""Save captured frames so that a file on disk is always a whole image, even after a power cut.

The image is encoded in memory, written to a hidden temporary file in the same folder, fsynced,
renamed over its final name (atomic on POSIX) and the folder fsynced so the rename itself is
durable. A reader, or the folder source of another edge-all, never sees half an image.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edge_all.digest import sha256_bytes

FORMATS = {"png": ("PNG", ".png", {}), "jpeg": ("JPEG", ".jpg", {"quality": 95})}


@dataclass(frozen=True)
class SavedFrame:
    path: Path
    sha256: str  # of the bytes on disk


def encode(rgb: np.ndarray, fmt: str) -> bytes:
    name, _, options = FORMATS[fmt]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=name, **options)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is either absent or complete (raises OSError)."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def save_frame(rgb: np.ndarray, folder: Path, stem: str, fmt: str = "png") -> SavedFrame:
    """Encode and atomically save one frame as FOLDER/STEM.png (or .jpg)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = encode(rgb, fmt)
    path = folder / f"{stem}{FORMATS[fmt][1]}"
    write_atomically(path, data)
    return SavedFrame(path=path, sha256=sha256_bytes(data))
