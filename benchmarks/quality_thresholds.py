"""Measure the capture quality metrics on real smear images and on degraded copies of them.

Prints, per variant (the real images; Gaussian-blurred, darkened, brightened and blank copies;
the synthetic demo images), percentiles of every metric and the share of frames the current
default thresholds reject, as markdown for docs/capture.md.

    python benchmarks/quality_thresholds.py --data ../shared/data/ALL --samples 300
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from edge_all.runtime.images import load_rgb
from edge_all.triage.quality import assess, measure
from edge_all.triage.thresholds import QualityThresholds
from training.dataset import CLASSES
from training.demo_data import make_demo_dataset

METRICS = ("brightness", "contrast", "clipped", "stained", "focus")
PERCENTILES = (0, 1, 5, 50, 95, 99, 100)


def blur(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda rgb: np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(sigma)))


def gain(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda rgb: np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def blank(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Empty glass under the same light: the frame's background colour plus sensor noise."""
    background = np.median(rgb.reshape(-1, 3), axis=0)
    noise = rng.normal(0, 3, rgb.shape)
    return np.clip(background + noise, 0, 255).astype(np.uint8)


def sample_real(data: Path, count: int, seed: int) -> list[Path]:
    files = [p for label in CLASSES for p in sorted((data / "Original" / label).glob("*.jpg"))]
    return sorted(random.Random(seed).sample(files, min(count, len(files))))


def describe(name: str, rows: list[dict[str, float]], rejected: list[str | None]) -> list[str]:
    lines = []
    for metric in METRICS:
        values = np.array([row[metric] for row in rows])
        cells = " | ".join(f"{np.percentile(values, p):.4g}" for p in PERCENTILES)
        lines.append(f"| {name} | {metric} | {cells} |")
    reasons: dict[str, int] = {}
    for reason in rejected:
        key = reason.split(":")[0] if reason else "passed"
        reasons[key] = reasons.get(key, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
    lines.append(f"| {name} | **gate** | {len(rows)} frames: {summary} |||||||")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/ALL")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    limits = QualityThresholds()
    real = [load_rgb(path) for path in sample_real(args.data, args.samples, args.seed)]
    variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "real": lambda rgb: rgb,
        "blur sigma=1.5": blur(1.5),
        "blur sigma=2": blur(2.0),
        "blur sigma=3": blur(3.0),
        "dark x0.3": gain(0.3),
        "dark x0.5": gain(0.5),
        "dark x0.7": gain(0.7),
        "bright x1.15": gain(1.15),
        "bright x1.3": gain(1.3),
        "bright x1.6": gain(1.6),
        "blank glass": lambda rgb: blank(rgb, rng),
    }
    header = "| variant | metric | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |"
    print(f"Real images: {len(real)} sampled from {args.data}/Original (seed {args.seed})\n")
    print(header)
    print("|" + "---|" * (len(PERCENTILES) + 2))
    for name, make in variants.items():
        frames = [make(rgb) for rgb in real]
        rows = [measure(frame).to_dict() for frame in frames]
        print("\n".join(describe(name, rows, [assess(frame, limits).reason for frame in frames])))

    with tempfile.TemporaryDirectory() as tmp:
        demo = make_demo_dataset(tmp, per_class=50, seed=args.seed, quirks=False)
        frames = [load_rgb(p) for p in sorted(Path(demo.root, "Original").rglob("*.jpg"))]
        rows = [measure(frame).to_dict() for frame in frames]
        print("\n".join(describe("synthetic demo", rows, [assess(frame, limits).reason for frame in frames])))
    print(f"\nDefaults: {limits.to_dict()}")
    for height, width in ((224, 224), (1232, 1640)):
        frame = np.asarray(Image.fromarray(real[0]).resize((width, height)))
        start = time.perf_counter()
        for _ in range(20):
            measure(frame)
        print(f"measure() on a {width}x{height} frame: {(time.perf_counter() - start) / 20 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
