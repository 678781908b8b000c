"""One flattening of a judged field: what classify writes and what a capture records come from it."""

from __future__ import annotations

import numpy as np

from edge_all.results.judged import JudgedField
from edge_all.runtime.classifier import Prediction
from edge_all.triage.decision import FieldResult
from edge_all.triage.quality import QualityMetrics
from edge_all.triage.status import Status

LABELS = ["Benign", "Early", "Pre", "Pro"]
METRICS = QualityMetrics(brightness=200.123456, contrast=30.0, clipped=0.01, stained=0.2, focus=120.0)


def test_a_classified_field_keeps_what_the_model_said():
    prediction = Prediction("Pre", 2, 0.9, np.array([0.05, 0.04, 0.9, 0.01], np.float32), 12.5, 0.4)
    judged = JudgedField.of(FieldResult(Status.UNCERTAIN, "low", prediction, METRICS, None), LABELS)
    assert judged.predicted and (judged.status, judged.reason, judged.label, judged.index) == (
        Status.UNCERTAIN, "low", "Pre", 2,
    )  # fmt: skip
    assert judged.quality == METRICS.to_dict() and judged.confidence == 0.9 and judged.unfamiliarity == 0.4
    assert list(judged.probabilities) == LABELS and judged.probabilities["Pre"] == round(
        float(np.float32(0.9)), 6
    )
    record = judged.record_fields()
    assert record == {
        "status": Status.UNCERTAIN, "reason": "low", "quality": METRICS.to_dict(), "label": "Pre",
        "confidence": 0.9, "probabilities": judged.probabilities, "inference_ms": 12.5, "unfamiliarity": 0.4,
    }  # fmt: skip


def test_a_rejected_field_has_no_model_values():
    judged = JudgedField.of(FieldResult(Status.REJECTED, "too_dark: ...", None, None, None), LABELS)
    assert not judged.predicted and judged.label is None and judged.probabilities is None
    assert judged.record_fields() == {"status": Status.REJECTED, "reason": "too_dark: ...", "quality": {}}
