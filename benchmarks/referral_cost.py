"""What referral and calibration add to each frame, against the interpreter's own invoke().

    python -m benchmarks.referral_cost                      # the packaged reference bundle
    python -m benchmarks.referral_cost --bundle BUNDLE --rounds 300 --threads 2

Loads the bundle twice, with and without its referral detector, and classifies the same prepared
smear-like pixels with each in alternation (so a shared machine's drift hits both alike). The extra
per frame is the median difference of `predict_pixels`, reported as a share of the median invoke();
the detector's own scoring is also timed alone. The target (issue 12): under 10% of invoke().
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import numpy as np

from edge_all.runtime.benchmark import machine_facts, synthetic_smear
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.models import reference_bundle


def measure(bundle: str, rounds: int, threads: int) -> dict:
    with_detector = Classifier.load(bundle, threads=threads)
    if with_detector.referral is None:
        raise SystemExit(f"{bundle}: this bundle has no referral detector to measure")
    without = Classifier.load(bundle, threads=threads)
    without.referral = None
    without._decode = dataclasses.replace(without._decode, temperature=1.0)  # neither extra
    height, width = with_detector.input_size
    pixels = with_detector.prepare(synthetic_smear(np.random.default_rng(0), height, width))
    for _ in range(10):  # warm-up
        with_detector.predict_pixels(pixels)
        without.predict_pixels(pixels)
    extra, plain, invoke = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        full = with_detector.predict_pixels(pixels)
        middle = time.perf_counter()
        bare = without.predict_pixels(pixels)
        end = time.perf_counter()
        extra.append((middle - start) * 1000 - (end - middle) * 1000)
        plain.append((end - middle) * 1000)
        invoke.append((full.inference_ms + bare.inference_ms) / 2)
    features = with_detector.raw_outputs(pixels)["features"]
    scoring = []
    for _ in range(rounds):
        start = time.perf_counter()
        with_detector.referral.unfamiliarity(features)
        scoring.append((time.perf_counter() - start) * 1000)
    invoke_ms = statistics.median(invoke)
    extra_ms = statistics.median(extra)
    return {
        "bundle": str(bundle),
        "threads": threads,
        "rounds": rounds,
        "machine": machine_facts(),
        "invoke_ms": invoke_ms,
        "predict_without_extras_ms": statistics.median(plain),
        "extra_per_frame_ms": extra_ms,
        "detector_scoring_ms": statistics.median(scoring),
        "extra_share_of_invoke": extra_ms / invoke_ms,
        "target_met": extra_ms / invoke_ms < 0.10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bundle", default=None, help="a bundle with a referral detector (default: reference)"
    )
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    result = measure(str(args.bundle or reference_bundle()), args.rounds, args.threads)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
