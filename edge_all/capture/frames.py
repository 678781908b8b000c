"""Save captured frames so that a file on disk is always a whole image, even after a power cut,
and an existing file is never overwritten.

The image is encoded in memory, written to a hidden temporary file in the same folder, fsynced,
then given its final name with a hard link, which fails rather than replace a file already there
(FileExistsError), and the folder fsynced so the new name itself is durable. A reader, or the
folder source of another edge-all, never sees half an image. On a filesystem without hard links
(FAT on a USB stick) the name is first claimed with O_EXCL and the whole file renamed over that
empty claim. Frame names carry the session's random uid, so they are unique for ever, even when
the results database is replaced and its session ids start again from 1.
"""

from __future__ import annotations

import errno
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
    """Write `data` to a new file `path`, which is then either absent or complete.

    Raises FileExistsError when `path` exists (it is never overwritten), OSError otherwise.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _publish(temporary: Path, path: Path) -> None:
    """Give the complete temporary file its final name, never replacing a file of that name."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(
            errno.EEXIST, "a file of that name exists; not overwritten", str(path)
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (FAT): claim the name, then rename the whole file over the claim.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.replace(temporary, path)


def save_frame(rgb: np.ndarray, folder: Path, stem: str, fmt: str = "png") -> SavedFrame:
    """Encode and atomically save one frame as FOLDER/STEM.png (or .jpg); never overwrites a file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = encode(rgb, fmt)
    path = folder / f"{stem}{FORMATS[fmt][1]}"
    write_atomically(path, data)
    return SavedFrame(path=path, sha256=sha256_bytes(data))
