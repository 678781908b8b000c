"""SHA-256, the one way edge-all names file contents: bundle models, dataset images, saved frames."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20  # a bundle's model may be tens of MB: hash it in pieces, not whole in memory


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
