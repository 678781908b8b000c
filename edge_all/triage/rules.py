"""The rule for one prediction (of a whole field, or of one white cell): referred when unfamiliar,
uncertain when below the confidence threshold, else classified. One rule for both readings, so a cell
and a field are never judged by different cuts."""

from __future__ import annotations

from edge_all.runtime.classifier import Prediction
from edge_all.triage.status import Status

REFERRED_REASON = "unlike the images this model was trained on"


def decide(prediction: Prediction, threshold: float, refer_above: float = 1.0) -> tuple[Status, str | None]:
    """Status and reason for a prediction of a picture that passed (or skipped) the quality gate;
    `refer_above`: the unfamiliarity threshold (1.0: the bundle's; a commissioned site's may be lower)."""
    if prediction.unfamiliarity is not None and prediction.unfamiliarity >= refer_above:
        return (
            Status.REFERRED,
            f"{REFERRED_REASON} (unfamiliarity {prediction.unfamiliarity:.2f}, "
            f"refer above {refer_above:.2f})",
        )
    if prediction.confidence < threshold:
        return Status.UNCERTAIN, f"confidence {prediction.confidence:.2f} below {threshold:g}"
    return Status.CLASSIFIED, None
