"""SHA-256, the one way edge-all names file contents: bundle models, dataset images, saved frames."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SHA256_HEX = re.compile(r"[0-9a-f]{64}")  # a sha256 as files record it: 64 lowercase hex digits

_CHUNK = 1 << 20  # a bundle's model may be tens of MB: hash it in pieces, not whole in memory


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
