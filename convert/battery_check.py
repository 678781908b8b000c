"""The robustness gate: the converted model against the float model under every battery condition.

A conversion can keep clean accuracy and still lose it where a clinic's camera takes the images
(blur, JPEG, a lower resolution): int8 ranges calibrated on clean training images may clip what a
degraded image produces. So the gate that guards clean accuracy guards every condition of the
robustness battery (training.robustness) too, and reports how often the converted model refers
images under each condition.

With 20 conditions, a few images near a decision boundary flip between the two models by chance,
and on a small test set one image is several points. So a condition fails only when the converted
model is worse than the allowed drop by more than two standard errors of the paired difference
(McNemar: sqrt(images that changed class) / images), not whenever one image flips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from convert.accuracy import converted_outputs, float_probabilities
from training.robustness import BATTERY_VERSION, run_battery


@dataclass(frozen=True)
class ConditionCheck:
    name: str
    what: str
    float_accuracy: float
    converted_accuracy: float
    drop_pp: float  # float minus converted accuracy, in percentage points
    margin_pp: float  # two standard errors of that difference: chance alone moves it this much
    float_malignant_called_benign: int
    converted_malignant_called_benign: int
    malignant: int
    converted_recall: dict[str, float | None]
    agreement_with_clean: float  # of the converted model, with its own answers on clean images
    referred: float | None  # share the converted model refers under this condition
    passed: bool


def check_battery(
    float_model: Any,
    classifier: Any,
    pixels: np.ndarray,
    truth: np.ndarray,
    labels: Sequence[str],
    max_drop_pp: float,
    show: bool = False,
) -> dict[str, Any]:
    """Both models on every condition; the gate passes when no condition loses more than max_drop_pp."""
    referred: dict[str, float | None] = {}
    changed: dict[str, int] = {}
    float_top: dict[str, np.ndarray] = {}
    current = {"name": ""}

    def remember(name: str) -> None:
        current["name"] = name

    def floating(batch: np.ndarray) -> np.ndarray:
        probabilities = float_probabilities(float_model, batch)
        float_top[current["name"]] = probabilities.argmax(axis=1)
        return probabilities

    def converted(batch: np.ndarray) -> np.ndarray:
        name = current["name"]
        out = converted_outputs(classifier, batch, f"Robustness: {name}", show)
        referred[name] = float(np.mean(out.unfamiliarity >= 1.0)) if out.unfamiliarity is not None else None
        changed[name] = int(np.sum(out.probabilities.argmax(axis=1) != float_top[name]))
        return out.probabilities

    float_results = run_battery(floating, pixels, truth, labels, on_condition=remember)
    converted_results = run_battery(converted, pixels, truth, labels, on_condition=remember)
    checks = []
    for before, after in zip(float_results, converted_results, strict=True):
        drop = 100.0 * (before.accuracy - after.accuracy)
        margin = 200.0 * float(np.sqrt(changed[after.name])) / max(after.images, 1)
        checks.append(
            ConditionCheck(
                name=after.name,
                what=after.what,
                float_accuracy=before.accuracy,
                converted_accuracy=after.accuracy,
                drop_pp=round(drop, 6),
                margin_pp=round(margin, 6),
                float_malignant_called_benign=before.malignant_called_benign,
                converted_malignant_called_benign=after.malignant_called_benign,
                malignant=after.malignant,
                converted_recall=after.per_class_recall,
                agreement_with_clean=after.agreement_with_clean,
                referred=referred.get(after.name),
                passed=drop <= max_drop_pp + margin,
            )
        )
    failed = [c.name for c in checks if not c.passed]
    return {
        "battery_version": BATTERY_VERSION,
        "max_drop_pp": float(max_drop_pp),
        "passed": not failed,
        "failed_conditions": failed,
        "conditions": [asdict(c) for c in checks],
    }
