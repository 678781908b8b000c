"""Measure the red-cell scale estimate on real fields and on copies resampled x0.5, x2 and x3.

For each source: how many images get a scale, the median scale (and the red cell's size in px), and
for each resampled copy the share whose estimate follows the resampling within 10% (the copy's
estimate times the factor against the original's), among images whose original got a scale; then the
reasons given when there is none. Markdown for docs/scale.md.

    python benchmarks/scale_estimate.py --data ../shared/data --samples 60
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from edge_all.cells.scale import RED_CELL_DIAMETER_UM, estimate_scale
from edge_all.runtime.images import load_rgb

FACTORS = (0.5, 2.0, 3.0)
# Each source: a glob under the data folder.
SOURCES = {
    "home lab (ALL Original, 224x224)": "ALL/Original/*/*.jpg",
    "chula-fields (1440x900)": "chula-fields/field/*.jpg",
    "pbc-normal (CellaVision single cells, 360x363)": "pbc-normal/*/*.jpg",
    "ood-dev tecom (single cells, 120x120)": "ood-dev/zheng2018_wbc/tecom_dataset1/*/*",
    "ood-dev CellaVision blog (single cells, 300x300)": "ood-dev/zheng2018_wbc/cellavision_blog_dataset2/*/*",
}


def resized(rgb: np.ndarray, factor: float) -> np.ndarray:
    """A copy `factor` times the size: area averaging down, bicubic up (what a finer camera would add)."""
    h, w = rgb.shape[:2]
    method = Image.Resampling.BOX if factor < 1 else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(rgb).resize((round(w * factor), round(h * factor)), method))


def reason_code(reason: str | None) -> str:
    return "scale" if reason is None else reason.split(" (")[0]


def run_source(files: list[Path]) -> list[str]:
    started = time.perf_counter()
    scales, follows, reasons, seconds = [], {f: [] for f in FACTORS}, Counter(), []
    for path in files:
        rgb = load_rgb(path)
        t0 = time.perf_counter()
        base = estimate_scale(rgb)
        seconds.append(time.perf_counter() - t0)
        reasons[reason_code(base.reason)] += 1
        if base.um_per_px is None:
            continue
        scales.append(base.um_per_px)
        for factor in FACTORS:
            copy = estimate_scale(resized(rgb, factor))
            ok = copy.um_per_px is not None and abs(copy.um_per_px * factor / base.um_per_px - 1) <= 0.10
            follows[factor].append(ok)
    n = len(files)
    row = [f"{n}", f"{len(scales) / n:.0%}"]
    if scales:
        med = float(np.median(scales))
        q1, q3 = np.percentile(scales, [25, 75])
        row += [f"{med:.3f} ({q1:.3f}-{q3:.3f})", f"{RED_CELL_DIAMETER_UM / med:.1f}"]
        row += [f"{np.mean(follows[f]):.0%} of {len(follows[f])}" for f in FACTORS]
    else:
        row += ["-", "-"] + ["-" for _ in FACTORS]
    row.append(f"{1000 * float(np.median(seconds)):.0f}")
    row.append(", ".join(f"{k}: {v}" for k, v in reasons.most_common() if k != "scale") or "-")
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--samples", type=int, default=60, help="images per source (drawn with seed 0)")
    args = parser.parse_args()
    header = (
        "| source | images | given a scale | um/px, median (IQR) | red cell px | x0.5 within 10% "
        "| x2 within 10% | x3 within 10% | ms per image | no scale: reason |"
    )
    lines = [header, "|---|" + "---:|" * 8 + "---|"]
    for name, pattern in SOURCES.items():
        files = sorted(p for p in args.data.glob(pattern) if p.is_file())
        if not files:
            continue
        files = random.Random(0).sample(files, min(args.samples, len(files)))
        print(name, flush=True)
        lines.append(f"| {name} | " + " | ".join(run_source(files)) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
