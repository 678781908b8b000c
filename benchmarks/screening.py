"""Slide-level sensitivity and specificity of the screening call, on slides simulated from test images.

    python -m benchmarks.screening --run runs/clinic-v1 --bundle BUNDLE [--condition blur1.0]

Every test image of the run's split goes through the device's one decision (triage.decision: the
quality gate, the model, referral, the confidence threshold), optionally under one condition of the
robustness battery. Slides are then drawn from those outcomes: a benign slide's fields from benign
images; an ALL slide's fields from malignant images with probability `share`, else benign ones. The
screening call (edge_all.triage.screening) is made on each slide, for several numbers of fields.

Caveat, stated in every table: a real slide's fields come from one patient and are not independent
draws; fields of one slide resemble each other more than these do, which makes real slides both
easier (a leukaemia shows in many fields) and harder (one unusual patient fools many fields). These
numbers describe the rule and the per-field error rates, not a clinical sensitivity.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import prepare
from edge_all.triage.decision import assess_field
from edge_all.triage.screening import INCONCLUSIVE, NO_ALL, REFER, FieldCounts, ScreeningRule, screening_call
from edge_all.triage.thresholds import QualityThresholds
from training.dataset import read_split
from training.robustness import BATTERY, apply_condition

FIELDS = (5, 10, 20, 30, 50)
SHARES = (0.05, 0.1, 0.2, 0.5)
SLIDES = 2000
CAVEAT = (
    "Simulated slides: fields drawn independently from test images (image-level split, no patient ids); "
    "real fields of one slide are correlated. These numbers describe the rule, not a clinical sensitivity."
)


def field_outcomes(run: str, bundle: str, condition: str) -> tuple[list[tuple[str, str | None]], np.ndarray]:
    """(status, label) of every test image under `condition`, and which were malignant."""
    split = read_split(f"{run}/split.json")
    classifier = Classifier.load(bundle)
    height, width = classifier.input_size
    chosen = next(c for c in BATTERY if c.name == condition)
    outcomes, malignant = [], []
    for record in split.part("test"):
        pixels = prepare(split.path(record), height, width, classifier.preprocessing)
        changed = apply_condition(chosen, pixels[None])[0]
        field = assess_field(changed, classifier, QualityThresholds(), classifier.confidence_threshold)
        label = field.prediction.label if field.prediction is not None else None
        outcomes.append((field.status, label))
        malignant.append(record.label != "Benign")
    return outcomes, np.array(malignant)


def simulate(
    outcomes: list[tuple[str, str | None]], malignant: np.ndarray, fields: int, share: float,
    rule: ScreeningRule, rng: np.random.Generator,
) -> Counter[str]:  # fmt: skip
    benign_idx, malignant_idx = np.flatnonzero(~malignant), np.flatnonzero(malignant)
    calls: Counter[str] = Counter()
    for _ in range(SLIDES):
        sick = rng.random(fields) < share
        picks = np.where(sick, rng.choice(malignant_idx, fields), rng.choice(benign_idx, fields))
        groups = Counter(outcomes[i] for i in picks)
        counts = FieldCounts.of((status, label, n) for (status, label), n in groups.items())
        calls[screening_call(counts, rule).verdict] += 1
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, help="training run dir (its split's test images)")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--condition", default="clean", help="a robustness battery condition (default clean)")
    parser.add_argument("--min-all-like", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--min-good-fields", type=int, default=ScreeningRule.min_good_fields)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", help="also write the numbers here")
    args = parser.parse_args()
    outcomes, malignant = field_outcomes(args.run, args.bundle, args.condition)
    per_status = Counter(status for status, _ in outcomes)
    benign = [status == "classified" and label != "Benign" for (status, label), m in zip(
        outcomes, malignant, strict=True) if not m]  # fmt: skip
    benign_fp = float(np.mean(benign))
    print(
        f"# Screening call on simulated slides ({args.condition}; {len(outcomes)} test images: "
        f"{dict(per_status)})"
    )
    print(f"\nBenign test images called ALL-like with confidence: {benign_fp:.1%}\n\n{CAVEAT}\n")
    results = []
    for k in args.min_all_like:
        rule = ScreeningRule(min_all_like=k, min_good_fields=args.min_good_fields)
        print(
            f"## refer at {k} ALL-like field(s); 'no ALL-like cells' after {rule.min_good_fields} "
            "good fields\n"
        )
        print(
            "| fields per slide | benign: no ALL-like (specificity) | benign: refer | benign: inconclusive | "
            + " | ".join(f"ALL {s:.0%} of fields: refer" for s in SHARES)
            + " |"
        )
        print("|---:" * (4 + len(SHARES)) + "|")
        rng = np.random.default_rng(args.seed)
        for n in FIELDS:
            benign = simulate(outcomes, malignant, n, 0.0, rule, rng)
            sick = [simulate(outcomes, malignant, n, s, rule, rng) for s in SHARES]
            row = [benign[NO_ALL] / SLIDES, benign[REFER] / SLIDES, benign[INCONCLUSIVE] / SLIDES]
            sens = [c[REFER] / SLIDES for c in sick]
            print(f"| {n} | " + " | ".join(f"{v:.1%}" for v in row + sens) + " |")
            results.append({"min_all_like": k, "fields": n, "benign": dict(benign), "all": {
                str(s): dict(c) for s, c in zip(SHARES, sick, strict=True)}})  # fmt: skip
        print()
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            json.dump(
                {"condition": args.condition, "slides": SLIDES, "results": results, "caveat": CAVEAT},
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
