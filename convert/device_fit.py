"""What the device needs beside the model, fitted on the converted model's own outputs.

- The referral detector (edge_all.runtime.referral): a model of the training images' features, with the
  threshold that refers `referral_rate` of the validation images.
- The calibration temperature: softmax(logits / T) minimises the negative log-likelihood of the
  validation images, clean and under the robustness battery. A model that classifies every clean
  validation image right would otherwise be "calibrated" to ever more certainty; the battery's
  images are the mistakes a clinic's camera will provoke, and the temperature must hold for them.
  Even so, a validation split the model gets (almost) all right can only teach it to be surer, so
  the temperature never goes below 1: calibration may soften the model's confidence, never sharpen it
  (a sharpened mistake slips under the confidence threshold that would have referred it).

Both are fitted on the int8 (or float) model that ships, through the device runtime, so what the
bundle records is what the device will compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convert.progress import progress
from edge_all.runtime.referral import METHOD, ReferralDetector
from edge_all.runtime.tensors import softmax
from training.dataset import Split
from training.loading import LoadedImages, load_images
from training.robustness import apply_condition, conditions_for

MIN_TEMPERATURE = 1.0  # never sharpen (see above)
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 801))  # the grid searched
ECE_BINS = 15


@dataclass(frozen=True)
class DeviceFit:
    detector: ReferralDetector | None  # None: the model has no feature output
    temperature: float | None  # None: the model outputs probabilities, not logits
    referral: dict[str, Any] = field(default_factory=dict)  # how the detector was fitted, and its rates
    calibration: dict[str, Any] = field(default_factory=dict)  # what the temperature was fitted on


def part_images(split: Split, part: str, size: int) -> LoadedImages:
    """A split part's Original images, model-sized, as training read them (unreadable ones left out)."""
    records = [r for r in split.part(part) if r.variant != "segmented"]
    return load_images(split, records, size, warn=lambda line: None)


def outputs_of(classifier: Any, pixels: np.ndarray, label: str, show: bool) -> dict[str, np.ndarray]:
    """The converted model's raw outputs (by role) for each image, stacked."""
    rows = [classifier.raw_outputs(x) for x in progress(pixels, label, len(pixels), show)]
    return {role: np.stack([row[role] for row in rows]) for role in rows[0]} if rows else {}


def fit_device(
    classifier: Any,
    split: Split,
    size: int,
    scores_are_logits: bool,
    referral_rate: float,
    dimensions: int,
    show: bool = True,
) -> DeviceFit:
    """Fit the referral detector and the temperature for `classifier` (a staged bundle, no extras yet)."""
    train = part_images(split, "train", size)
    val = part_images(split, "val", size)
    train_out = outputs_of(classifier, train.pixels, "Features of the training images", show)
    val_out = outputs_of(classifier, val.pixels, "Features of the validation images", show)
    detector, referral = None, {}
    if "features" in train_out:
        detector = ReferralDetector.fit(train_out["features"], train.labels, dimensions)
        detector = detector.with_threshold(val_out["features"], referral_rate)
        referral = {
            "method": METHOD,
            "dimensions": int(detector.transform.shape[1]),
            "feature_dimensions": int(detector.transform.shape[0]),
            "fitted_on": f"{len(train.labels)} training images (Original, the converted model's features)",
            "threshold_set_on": f"{len(val.labels)} validation images",
            "target_validation_referral_rate": referral_rate,
            "validation_referral_rate": float(np.mean(detector.unfamiliarity(val_out["features"]) >= 1.0)),
        }
    temperature, calibration = None, {}
    if scores_are_logits:
        logits, labels, fitted_on = _calibration_set(classifier, val, val_out["scores"], show)
        temperature = fit_temperature(logits, labels)
        calibration = {
            "method": "temperature scaling (negative log-likelihood, grid search), never below 1",
            "fitted_on": fitted_on,
            "nll_best_temperature": fit_temperature(logits, labels, floor=0.0),
            "ece_before": expected_calibration_error(softmax(logits), labels),
            "ece_after": expected_calibration_error(softmax(logits / temperature), labels),
        }
    return DeviceFit(detector, temperature, referral, calibration)


def _calibration_set(
    classifier: Any, val: LoadedImages, clean_logits: np.ndarray, show: bool
) -> tuple[np.ndarray, np.ndarray, str]:
    """Validation logits, clean and under each condition of the robustness battery."""
    logits, labels = [clean_logits], [val.labels]
    conditions = [c for c in conditions_for(val.pixels) if c.name != "clean"]
    for condition in conditions:
        changed = apply_condition(condition, val.pixels)
        logits.append(outputs_of(classifier, changed, f"Calibration: {condition.name}", show)["scores"])
        labels.append(val.labels)
    fitted_on = f"{len(val.labels)} validation images, clean and under {len(conditions)} battery conditions"
    return np.concatenate(logits), np.concatenate(labels), fitted_on


def fit_temperature(logits: np.ndarray, labels: np.ndarray, floor: float = MIN_TEMPERATURE) -> float:
    """The temperature on TEMPERATURES (at least `floor`) that minimises the negative log-likelihood."""
    grid = TEMPERATURES[floor <= TEMPERATURES]
    losses = [_nll(logits / t, labels) for t in grid]
    return float(grid[int(np.argmin(losses))])


def _nll(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """The gap between confidence and accuracy, averaged over equal-width confidence bins (weighted)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> list[dict[str, float | int]]:
    """Per confidence bin: how many images, their mean confidence and their accuracy (for the diagram)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows: list[dict[str, float | int]] = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            rows.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "images": int(inside.sum()),
                    "confidence": float(confidence[inside].mean()),
                    "accuracy": float(correct[inside].mean()),
                }
            )
    return rows


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """Probability that an image from outside scores higher than one from inside (ties count half)."""
    scores = np.concatenate([inside, outside])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    outside_ranks = ranks[len(inside) :].sum()
    return float((outside_ranks - len(outside) * (len(outside) + 1) / 2) / (len(inside) * len(outside)))
