"""What test-time augmentation (--tta: the 8 rotations and flips, averaged) buys, and what it costs.

    python -m benchmarks.tta --run runs/clinic-v1 --bundle BUNDLE [--conditions clean rot90 blur1.0]

The bundle classifies the run's test images with and without TTA, under a few conditions of the
robustness battery; reported per condition: accuracy, malignant images called Benign, the share
referred, and the median time of one prediction (invoke() and the runtime around it).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from convert.device_fit import part_images
from edge_all.runtime.classifier import Classifier
from training.dataset import read_split
from training.robustness import BATTERY, apply_condition

DEFAULT_CONDITIONS = ("clean", "rot90", "jpeg50", "blur1.0", "half_res")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    classifier = Classifier.load(args.bundle, threads=args.threads)
    test = part_images(read_split(f"{args.run}/split.json"), "test", classifier.input_size[0])
    benign = classifier.labels.index("Benign")
    print("| condition | TTA | accuracy | malignant called Benign | referred | ms per image (median) |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.conditions:
        condition = next(c for c in BATTERY if c.name == name)
        pixels = apply_condition(condition, test.pixels)
        for tta in (False, True):
            times, predictions = [], []
            for x in pixels:
                start = time.perf_counter()
                predictions.append(classifier.predict_pixels(x, tta=tta))
                times.append((time.perf_counter() - start) * 1000)
            top = np.array([p.index for p in predictions])
            referred = np.mean([p.referred for p in predictions])
            malignant = test.labels != benign
            missed = f"{int(np.sum(malignant & (top == benign)))}/{int(np.sum(malignant))}"
            print(
                f"| {name} | {'yes' if tta else 'no'} | {np.mean(top == test.labels):.1%} | {missed} | "
                f"{referred:.1%} | {statistics.median(times):.1f} |"
            )


if __name__ == "__main__":
    main()
