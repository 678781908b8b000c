"""Metrics in numpy, checked against values worked out by hand (sklearn's definitions, zero_division=0)."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import classification_metrics, format_confusion, format_report

CLASSES = ("A", "B", "C", "D")  # D has no images and is never predicted


@pytest.fixture
def metrics():
    return classification_metrics(np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 2, 2]), CLASSES)


def test_confusion_matrix_rows_are_true_classes(metrics):
    assert metrics["confusion_matrix"] == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_per_class_values(metrics):
    expected = {
        "A": (1.0, 2 / 3, 0.8, 3),
        "B": (0.5, 0.5, 0.5, 2),
        "C": (0.5, 1.0, 2 / 3, 1),
        "D": (0.0, 0.0, 0.0, 0),
    }
    for name, (precision, recall, f1, support) in expected.items():
        row = metrics["per_class"][name]
        assert row["precision"] == pytest.approx(precision)
        assert row["recall"] == pytest.approx(recall)
        assert row["f1"] == pytest.approx(f1)
        assert row["support"] == support


def test_averages_and_accuracy(metrics):
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["macro_avg"]["precision"] == pytest.approx(0.5)
    assert metrics["macro_avg"]["recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 4)
    assert metrics["macro_avg"]["f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 4)
    assert metrics["weighted_avg"]["precision"] == pytest.approx(4.5 / 6)
    assert metrics["weighted_avg"]["recall"] == pytest.approx(4 / 6)
    assert metrics["weighted_avg"]["f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)


def test_report_table_matches_the_numbers(metrics):
    lines = format_report(metrics).splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:6]}
    assert rows["A"] == ["1.000", "0.667", "0.800", "3"]
    assert rows["D"] == ["0.000", "0.000", "0.000", "0"]
    accuracy = next(line for line in lines if line.strip().startswith("accuracy"))
    assert accuracy.split() == ["accuracy", "0.667", "6"]
    macro = next(line for line in lines if line.strip().startswith("macro avg"))
    assert macro.split()[2:] == ["0.500", "0.542", "0.492", "6"]
    confusion = format_confusion(metrics).splitlines()
    assert confusion[1].split() == ["A", "2", "1", "0", "0"]


def test_empty_input_gives_zeros_not_errors():
    empty = classification_metrics(np.array([], int), np.array([], int), CLASSES)
    assert empty["accuracy"] == 0.0 and empty["count"] == 0
    assert empty["weighted_avg"]["f1"] == 0.0
