"""The peak memory of reading one frame: `edge-all classify FILE` in a real subprocess, for the worst
case of each image format (the largest picture it may hold, in its most expensive mode).

    python -m benchmarks.image_memory [--before OLD_CHECKOUT] [--out TABLE.md]

Each file is made here (a smear-like picture: coloured noise, so compression is realistic but quick),
then classified by the reference bundle with the quality gate on, as a clinic would; the peak resident
set size of that process (the kernel's ru_maxrss, from wait4) is what a Raspberry Pi would need.
tests/reliability/test_image_memory.py runs the same measurement on the worst cases and holds them to
MEMORY_BOUND; docs/reliability.md shows the table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from edge_all.runtime.images import MAX_DECODED_PIXELS, MAX_PIXELS

REPO = Path(__file__).resolve().parents[1]
SIDE = int(MAX_DECODED_PIXELS**0.5)  # 4096: the largest square decoded whole
JPEG_SIDE = int(MAX_PIXELS**0.5)  # 8000: the largest square JPEG, decoded at half size
MEMORY_BOUND = 384 << 20  # bytes: what one frame may take, interpreter and model included
ImageFile.MAXBLOCK = 1 << 28  # Pillow's encoder needs a buffer this large to save a progressive JPEG


@dataclass(frozen=True)
class Case:
    name: str  # what the file is, in words
    suffix: str
    make: Callable[[Path], None]


def smear(width: int, height: int, channels: int = 3) -> np.ndarray:
    """Pinkish noise in tiles: like a stained field to a compressor, and quick to make at 64 Mpixels."""
    rng = np.random.default_rng(0)
    tile = rng.integers(120, 250, size=(256, 256, channels), dtype=np.uint8)
    return np.tile(tile, (-(-height // 256), -(-width // 256), 1))[:height, :width]


def _rgba() -> np.ndarray:
    rgba = smear(SIDE, SIDE, 4)
    rgba[..., 3] = np.where(np.arange(SIDE) % 2, 255, 0).astype(np.uint8)  # half transparent: composited
    return rgba


def _grey16() -> np.ndarray:
    return smear(SIDE, SIDE, 1)[..., 0].astype(np.uint16) * 257


def _save(
    pixels: Callable[[], np.ndarray], mode: str | None = None, **options: object
) -> Callable[[Path], None]:
    """Make the file only when it is measured: the pixels are made then, and freed after."""

    def make(path: Path) -> None:
        Image.fromarray(pixels(), mode=mode).save(path, **options)

    return make


def cases() -> list[Case]:
    """The worst case of each format: at the pixel limit, in the mode that costs most to convert."""

    def jpeg() -> np.ndarray:
        return smear(JPEG_SIDE, JPEG_SIDE)

    def progressive_444() -> np.ndarray:
        return smear(5792, 5792)  # 33.5 Mpixels: the largest 4:4:4 progressive JPEG within the limit

    return [
        Case("PNG, RGBA with transparency", ".png", _save(_rgba, compress_level=1)),
        Case("PNG, 16-bit grey", ".png", _save(_grey16, compress_level=1)),
        Case("JPEG, 64 Mpixels, baseline", ".jpg", _save(jpeg, quality=90)),
        Case("JPEG, 64 Mpixels, progressive 4:2:0", ".jpg", _save(jpeg, quality=90, progressive=True)),
        Case(
            "JPEG, 33.5 Mpixels, progressive 4:4:4",
            ".jpg",
            _save(progressive_444, quality=90, progressive=True, subsampling=0),
        ),
        Case(
            "JPEG, 64 Mpixels, progressive 4:4:4",
            ".jpg",
            _save(jpeg, quality=90, progressive=True, subsampling=0),
        ),
        Case("TIFF, 32-bit float grey", ".tif", _save(lambda: _grey16().astype(np.float32), mode="F")),
        Case("TIFF, RGBA", ".tif", _save(_rgba)),
        Case("BMP, RGB", ".bmp", _save(lambda: np.ascontiguousarray(_rgba()[..., :3]))),
        Case("GIF, palette with transparency", ".gif", _gif),
        Case("WebP, RGBA", ".webp", _save(_rgba, quality=80, method=0)),
        Case(
            "PNG, one row over the decoded limit",
            ".png",
            _save(lambda: smear(SIDE, SIDE + 1), compress_level=1),
        ),
        Case("PNG, 64 Mpixels (the issue's case)", ".png", _save(jpeg, compress_level=1)),
    ]


def _gif(path: Path) -> None:
    image = Image.fromarray(np.ascontiguousarray(_rgba()[..., :3])).quantize(64)
    image.info["transparency"] = 0
    image.save(path, transparency=0)


@dataclass(frozen=True)
class Measured:
    case: str
    peak_bytes: int
    exit_code: int
    last_line: str  # the refusal, when it was refused


# Runs edge-all and, as it exits, writes its own high-water resident set (VmHWM, of this process
# image only: ru_maxrss would include what the parent held when it forked) on stderr.
_MEASURED = """
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    os.write(2, f"\\npeak-rss-kib: {kib}\\n".encode())
atexit.register(peak)
sys.argv = ["edge-all", *sys.argv[1:]]
runpy.run_module("edge_all", run_name="__main__")
"""


def peak_of(*args: object, repo: Path = REPO, timeout: float = 300) -> tuple[int, int, str]:
    """(peak RSS in bytes, exit code, last line of output) of `edge-all ARGS` in a fresh process,
    run from the checkout `repo` (its edge_all is the one imported)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *map(str, args)],
        cwd=repo, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    *lines, peak = (done.stdout + done.stderr).strip().splitlines()
    assert peak.startswith("peak-rss-kib: "), done.stderr[-2000:]
    lines = [line for line in lines if line.strip()]
    return int(peak.split()[1]) * 1024, done.returncode, lines[-1] if lines else ""


def measure(case: Case, folder: Path, repos: list[Path]) -> list[Measured]:
    """The case classified by each checkout in `repos` (the file made once)."""
    path = folder / f"frame{case.suffix}"
    case.make(path)
    try:
        return [Measured(case.name, *peak_of("classify", path, repo=repo)) for repo in repos]
    finally:
        path.unlink()


def _cell(row: Measured) -> str:
    if row.exit_code == 0:
        return f"{row.peak_bytes >> 20} MiB, classified"
    refusal = row.last_line.split(": ", 2)[-1]  # the reason, without `error: PATH: `
    return f"{row.peak_bytes >> 20} MiB, refused: {refusal[:70]}"


def table(rows: list[list[Measured]], baselines: list[int], names: list[str]) -> str:
    lines = ["| file | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    itself = "a 224x224 PNG (the process itself: Python, numpy, LiteRT, the model)"
    lines.append(f"| {itself} | " + " | ".join(f"{b >> 20} MiB" for b in baselines) + " |")
    for measured in rows:
        lines.append(f"| {measured[0].case} | " + " | ".join(_cell(row) for row in measured) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="Also measure this older checkout (a column before).")
    parser.add_argument("--out", type=Path, help="Also write the table here (markdown).")
    options = parser.parse_args()
    repos = [options.before.resolve(), REPO] if options.before else [REPO]
    names = ["before", "now"] if options.before else ["peak RSS"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _save(lambda: smear(224, 224))(folder / "small.png")
        baselines = [peak_of("classify", folder / "small.png", repo=repo)[0] for repo in repos]
        rows = []
        for case in cases():
            rows.append(measure(case, folder, repos))
            print(f"{case.name}: " + ", ".join(_cell(row) for row in rows[-1]), file=sys.stderr)
    text = table(rows, baselines, names)
    print(text)
    if options.out:
        options.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
