"""The calibration temperature: fitted by likelihood, never allowed to make the model surer."""

from __future__ import annotations

import numpy as np

from convert.device_fit import expected_calibration_error, fit_temperature


def logits_with(correct: np.ndarray, margin: float) -> np.ndarray:
    """Four-class logits whose top class (by `margin`) is class 0 where `correct`, class 1 elsewhere."""
    logits = np.zeros((len(correct), 4))
    logits[np.arange(len(correct)), np.where(correct, 0, 1)] = margin
    return logits


def test_an_overconfident_model_is_softened():
    correct = np.arange(100) % 5 != 0  # 80% right, each answer at softmax ~0.99
    logits, labels = logits_with(correct, 6.0), np.zeros(100, int)
    temperature = fit_temperature(logits, labels)
    assert temperature > 2.0
    before = expected_calibration_error(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels)
    scaled = np.exp(logits / temperature) / np.exp(logits / temperature).sum(1, keepdims=True)
    assert expected_calibration_error(scaled, labels) < before / 2


def test_a_model_that_is_always_right_is_not_sharpened():
    logits, labels = logits_with(np.ones(100, bool), 2.0), np.zeros(100, int)
    assert fit_temperature(logits, labels, floor=0.0) < 0.5  # what likelihood alone would choose
    assert fit_temperature(logits, labels) == 1.0
