"""David Clunie's dciodvfy (Debian's dicom3tools) as a validator: every instance's IOD, modules,
attributes and values against the standard. Errors fail an export; warnings are listed and each
kind is explained in docs/standards.md."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_all.standards.errors import ExportError

DCIODVFY = "dciodvfy"


@dataclass(frozen=True)
class Report:
    iod: str  # the IOD dciodvfy recognised, e.g. "VLMicroscopicImage"
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def available() -> bool:
    return shutil.which(DCIODVFY) is not None


def verify(part10_bytes: bytes, timeout_s: float = 60.0) -> Report:
    """dciodvfy's verdict on one Part 10 file's bytes."""
    if not available():
        raise ExportError("dciodvfy is not installed (apt-get install dicom3tools)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "instance.dcm"
        path.write_bytes(part10_bytes)
        done = subprocess.run(
            [DCIODVFY, "-new", str(path)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    errors = tuple(line for line in lines if line.startswith("Error"))
    warnings = tuple(line for line in lines if line.startswith("Warning"))
    iods = [line for line in lines if not line.startswith(("Error", "Warning"))]
    return Report(iod=iods[0] if iods else "", errors=errors, warnings=warnings)
