"""One field of view, one decision: classified, uncertain, referred or rejected.

The same rules for `classify`, `capture-and-classify` and the station, so the same image is never
refused by one and classified at 0.99 by another:

0. referred, "scale unknown": a model that reads cells at a physical scale, on an image whose scale
   was neither given nor estimated from its red cells (the quality gate cannot be read truly either);
1. rejected: the picture fails the quality gate (too dark, blurred, empty...): the model is not run;
   it is measured at the reference scale when the image's scale is known (edge_all.triage.quality);
2. referred: the model ran, but the image is unlike the images it was trained on (the bundle's
   referral detector scores it at or above 1.0): its class and confidence mean little;
3. uncertain: familiar, but the (calibrated) confidence is below the threshold;
4. classified: the answer a specialist may rely on as a screening aid.

A cell model (bundle format 3) reads the field cell by cell (edge_all.triage.cells): the field's
result is its most serious cell's, and FieldResult.cells holds every cell with its box.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from edge_all.cells.scale import ScaleEstimate
from edge_all.runtime.classifier import Classifier, Prediction, Predictor
from edge_all.site.profile import SiteProfile
from edge_all.triage.cells import CellReader, CellResult
from edge_all.triage.drift import drift_of
from edge_all.triage.quality import QualityMetrics, assess
from edge_all.triage.rules import REFERRED_REASON as REFERRED_REASON
from edge_all.triage.rules import decide
from edge_all.triage.status import Status
from edge_all.triage.thresholds import QualityThresholds

SCALE_UNKNOWN = "scale_unknown"


def scale_unknown_reason(scale: ScaleEstimate) -> str:
    """Why an image was referred for want of a scale, and how to give one."""
    why = scale.reason or "no scale"
    return (
        f"{SCALE_UNKNOWN}: {why}; give the microscope's scale with --um-per-px "
        "(micrometres per pixel of this camera and objective)"
    )


@dataclass(frozen=True)
class FieldResult:
    status: Status  # CLASSIFIED, UNCERTAIN, REFERRED or REJECTED (never ERROR: that is raised)
    reason: str | None  # why it is not CLASSIFIED, in words
    prediction: Prediction | None  # None when rejected before the model ran
    quality: QualityMetrics | None  # None when the gate is off
    pixels: np.ndarray | None  # what the model saw (prepared), for heat-map overlays
    scale: ScaleEstimate | None = None  # the scale used and its source; None: not looked for
    cells: tuple[CellResult, ...] = ()  # a cell model's white cells, boxes in the image's pixels
    read_by_cells: bool = False  # a cell model judged it (its `cells` are the answer, even when empty)
    drift: str | None = (
        None  # read with a site: how it differs from the site's fields (edge_all.triage.drift)
    )


def reads_cells(predictor: Predictor) -> bool:
    """Whether the model reads cells at a physical scale (a format-3 bundle with `"reads": "cells"`):
    then an image of unknown scale is referred. Whole-field models (format 1/2, plain .tflite) do not."""
    manifest = getattr(predictor, "manifest", None)
    return getattr(manifest, "reads", "field") == "cells"


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
    reads_cells: bool = False,
    cell_reader: CellReader | None = None,
    site: SiteProfile | None = None,
    check_site_scale: bool = True,
) -> FieldResult:
    """Check the picture, then (if it passed) classify it and decide; raises the classifier's errors.

    `scale` is the image's own (edge_all.cells.scale.scale_of): the quality gate measures at the
    reference scale when it is known. `reads_cells` (a model that reads cells at a physical scale)
    refers an image of unknown scale, and reads the field cell by cell (edge_all.triage.cells; pass a
    `cell_reader` made once per command, or one is made here). `heatmap` adds a class activation map
    when the bundle can draw one. `site` (read with a commissioned site) adds the drift warning
    (`check_site_scale` False: without its costly red-cell scale check, edge_all.triage.drift).
    """
    result = _assess(rgb, classifier, quality, threshold, tta, heatmap, scale, reads_cells, cell_reader)
    if site is None:
        return result
    return replace(result, drift=drift_of(rgb, result.scale, result.quality, site, check_site_scale))


def _assess(
    rgb: np.ndarray,
    classifier: Predictor,
    quality: QualityThresholds | None,
    threshold: float,
    tta: bool,
    heatmap: bool,
    scale: ScaleEstimate | None,
    reads_cells: bool,
    cell_reader: CellReader | None,
) -> FieldResult:
    if reads_cells and (scale is None or not scale.known):
        unknown = scale or ScaleEstimate(None, "estimated", reason="no scale given or estimated")
        return FieldResult(
            Status.REFERRED, scale_unknown_reason(unknown), None, None, None, unknown, read_by_cells=True
        )
    if reads_cells and (cell_reader is not None or isinstance(classifier, Classifier)):
        reader = cell_reader or CellReader(classifier)  # type: ignore[arg-type]
        read = reader.read(rgb, quality, threshold, scale)
        return FieldResult(
            read.status, read.reason, read.prediction, read.quality, None, read.scale, read.cells, True
        )
    metrics = None
    if quality is not None:
        report = assess(rgb, quality, scale.um_per_px if scale is not None else None)
        metrics = report.metrics
        if not report.passed:
            return FieldResult(Status.REJECTED, report.reason, None, metrics, None, scale)
    pixels = classifier.prepare(rgb)
    prediction = classifier.predict_pixels(pixels, tta=tta, heatmap=heatmap and classifier.can_draw_heatmaps)
    status, reason = decide(prediction, threshold)
    return FieldResult(status, reason, prediction, metrics, pixels, scale)
