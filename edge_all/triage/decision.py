"""One field of view, one decision: classified, uncertain, referred or rejected.

The same rules for `classify`, `capture-and-classify` and the station, so the same image is never
refused by one and classified at 0.99 by another:

1. rejected: the picture fails the quality gate (too dark, blurred, empty...): the model is not run;
2. referred: the model ran, but the image is unlike the images it was trained on (the bundle's
   referral detector scores it at or above 1.0): its class and confidence mean little;
3. uncertain: familiar, but the (calibrated) confidence is below the threshold;
4. classified: the answer a specialist may rely on as a screening aid.

A cell model (bundle format 3) reads the field cell by cell (edge_all.triage.cells): the field's
result is its most serious cell's, and FieldResult.cells holds every cell with its box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_all.cells.scale import ScaleEstimate
from edge_all.runtime.classifier import Prediction as Prediction
from edge_all.runtime.classifier import Predictor
from edge_all.triage.cells import CellReader, CellResult, reads_cells
from edge_all.triage.quality import QualityMetrics, assess
from edge_all.triage.rules import REFERRED_REASON as REFERRED_REASON
from edge_all.triage.rules import decide
from edge_all.triage.status import Status
from edge_all.triage.thresholds import QualityThresholds


@dataclass(frozen=True)
class FieldResult:
    status: Status  # CLASSIFIED, UNCERTAIN, REFERRED or REJECTED (never ERROR: that is raised)
    reason: str | None  # why it is not CLASSIFIED, in words
    prediction: Prediction | None  # None when rejected before the model ran
    quality: QualityMetrics | None  # None when the gate is off
    pixels: np.ndarray | None  # what the model saw (prepared), for heat-map overlays
    cells: tuple[CellResult, ...] = ()  # a cell model's white cells, boxes in the image's pixels
    scale: ScaleEstimate | None = None  # a cell model's scale of the image (None: a whole-field model)


def resolve_threshold(option: float | None, predictor: Predictor) -> float:
    """The one confidence threshold of a command: the option's (--threshold), else the bundle's own
    (for a plain .tflite, the one default). Resolved once per command and passed on."""
    return option if option is not None else predictor.confidence_threshold


def assess_field(
    rgb: np.ndarray,
    classifier: Predictor,
    quality: QualityThresholds | None,
    threshold: float,
    tta: bool = False,
    heatmap: bool = False,
    scale: ScaleEstimate | None = None,
    cell_reader: CellReader | None = None,
) -> FieldResult:
    """Check the picture, then (if it passed) classify it and decide; raises the classifier's errors.

    `heatmap` adds a class activation map when the bundle can draw one. A cell model reads the field
    cell by cell, at `scale` when given (else estimated); pass a `cell_reader` made once per command.
    """
    if cell_reader is not None or reads_cells(classifier):
        reader = cell_reader or CellReader(classifier)  # type: ignore[arg-type]
        outcome = reader.read(rgb, quality, threshold, scale)
        return FieldResult(
            outcome.status,
            outcome.reason,
            outcome.prediction,
            outcome.quality,
            None,
            outcome.cells,
            outcome.scale,
        )
    metrics = None
    if quality is not None:
        report = assess(rgb, quality)
        metrics = report.metrics
        if not report.passed:
            return FieldResult(Status.REJECTED, report.reason, None, metrics, None)
    pixels = classifier.prepare(rgb)
    prediction = classifier.predict_pixels(pixels, tta=tta, heatmap=heatmap and classifier.can_draw_heatmaps)
    status, reason = decide(prediction, threshold)
    return FieldResult(status, reason, prediction, metrics, pixels)
