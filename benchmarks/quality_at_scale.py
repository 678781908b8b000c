"""The quality gate before and after it measured at the reference scale, on each source's images.

For each source: the share rejected, and rejected as out of focus, by the gate as it was (measured on
a 224-px copy, exposure on the mean brightness; `--before` thresholds) and as it is (at 0.55 um/px,
exposure against the glass), with each image's scale estimated from its red cells, else the
source's own scale (what a clinic stores once for its camera and objective: here the median of the
source's estimates); then Gaussian-blurred copies (sigma 2 px at the reference scale), which must
still be rejected. Markdown for docs/scale.md.

    python benchmarks/quality_at_scale.py --data ../shared/data --samples 60
"""

from __future__ import annotations

import argparse
import dataclasses
import random
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from edge_all.cells.scale import REFERENCE_UM_PER_PX, estimate_scale
from edge_all.runtime.images import load_rgb
from edge_all.triage.quality import assess, judge, measure
from edge_all.triage.thresholds import QualityThresholds

SOURCES = {
    "home lab (ALL Original, 224x224)": "ALL/Original/*/*.jpg",
    "chula-fields (1440x900)": "chula-fields/field/*.jpg",
    "pbc-normal (CellaVision single cells)": "pbc-normal/*/*.jpg",
    "ood-dev tecom (single cells, 120x120)": "ood-dev/zheng2018_wbc/tecom_dataset1/*/*",
    "ood-dev CellaVision blog (single cells, 300x300)": "ood-dev/zheng2018_wbc/cellavision_blog_dataset2/*/*",
}
LIMITS = QualityThresholds()
BEFORE = LIMITS.replace(min_brightness=130.0)  # the gate as it was: mean brightness >= 130
BLUR_SIGMA_AT_REFERENCE = 2.0


def code(reason: str | None) -> str:
    return "passed" if reason is None else reason.split(":")[0]


def before(rgb: np.ndarray) -> str:
    """The old gate: a 224-px copy, too_dark on the mean brightness (glass not read)."""
    metrics = dataclasses.replace(measure(rgb), glass=None)
    return code(judge(metrics, BEFORE))


def share(counter: Counter, n: int, key: str | None = None) -> str:
    value = n - counter["passed"] if key is None else counter[key]
    return f"{value / n:.0%}"


def run_source(files: list[Path]) -> list[str]:
    images = [load_rgb(path) for path in files]
    estimates = [estimate_scale(rgb) for rgb in images]
    known = [e.um_per_px for e in estimates if e.um_per_px is not None]
    site = float(np.median(known)) if known else None
    old, new, alone, blurred, sources = Counter(), Counter(), Counter(), Counter(), Counter()
    for rgb, estimate in zip(images, estimates, strict=True):
        old[before(rgb)] += 1
        scale = estimate.um_per_px if estimate.um_per_px is not None else site
        sources["estimated" if estimate.um_per_px is not None else ("site" if site else "none")] += 1
        new[code(assess(rgb, LIMITS, scale).reason)] += 1
        alone[code(assess(rgb, LIMITS, estimate.um_per_px).reason)] += 1  # no site scale stored
        sigma = BLUR_SIGMA_AT_REFERENCE * (REFERENCE_UM_PER_PX / scale if scale else 1.0)
        soft = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(sigma)))
        blurred[code(assess(soft, LIMITS, scale).reason)] += 1
    n = len(images)
    scales = ", ".join(f"{k} {v}" for k, v in sources.most_common())
    return [
        str(n), scales, "-" if site is None else f"{site:.3f}",
        share(old, n), share(old, n, "out_of_focus"), share(old, n, "too_dark"),
        share(new, n), share(new, n, "out_of_focus"), share(new, n, "too_dark"),
        ", ".join(f"{k} {v}" for k, v in new.most_common() if k != "passed") or "-",
        share(alone, n, "out_of_focus"), share(blurred, n),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--samples", type=int, default=60, help="images per source (drawn with seed 0)")
    args = parser.parse_args()
    lines = [
        "| source | images | scale used | site scale (um/px) | before: rejected | before: out of focus "
        "| before: too dark | after: rejected | after: out of focus | after: too dark | after: reasons "
        "| after, no site scale: out of focus | blurred copies rejected |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, pattern in SOURCES.items():
        files = sorted(p for p in args.data.glob(pattern) if p.is_file())
        if files:
            files = random.Random(0).sample(files, min(args.samples, len(files)))
            lines.append(f"| {name} | " + " | ".join(run_source(files)) + " |")
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
