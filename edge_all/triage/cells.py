"""A field read cell by cell (a format-3 bundle, "reads": "cells"): each white cell found, cropped at
the bundle's scale, classified, and judged by its label's role; the field is its most serious cell.

image -> scale (given, else estimated from the red cells: edge_all.cells.scale.scale_of; unknown:
edge_all.triage.decision refers the field "scale unknown" before it gets here) -> resample to the
bundle's scale -> quality -> stain normalise -> find white cells (none: rejected "no white cell in
this field") -> crops of cell_crop.size_px centred on each (reflect padding) -> one batched call
where the backend allows -> each cell's status by its label's role:

- unfamiliar or below the confidence threshold: referred (as a whole-field prediction would be);
- role `refer`: referred; `all_like`: ALL-like; `not_all_like`: cleared; `not_a_white_cell`: dropped
  (kept in the list, not counted as a white cell).

The field's status is its most serious cell's: ALL-like (classified, with that cell's label), then
referred, then cleared (classified, with the most confident cleared cell's label). Boxes are in the
pixels of the image as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from edge_all.cells.finder import CellBox, find_white_cells
from edge_all.cells.resample import to_scale
from edge_all.cells.scale import ScaleEstimate
from edge_all.cells.stain import LabStatistics, StainNormaliser
from edge_all.runtime.classifier import Classifier, Prediction
from edge_all.triage.quality import QualityMetrics, assess
from edge_all.triage.rules import decide
from edge_all.triage.status import Status
from edge_all.triage.thresholds import QualityThresholds

NO_WHITE_CELL = "no_white_cell: no white cell in this field (move to a field with white cells)"


class CellStatus(str, Enum):
    """A white cell's outcome; the field takes its most serious (ALL_LIKE, then REFERRED, then CLEARED)."""

    ALL_LIKE = "all-like"  # confidently an ALL class
    REFERRED = "referred"  # unfamiliar, uncertain, or a class that always refers
    CLEARED = "cleared"  # confidently not ALL-like (Benign, a normal white cell)
    DROPPED = "dropped"  # confidently not a white cell (a platelet clump, debris): not counted

    def __str__(self) -> str:
        return self.value


ROLE_STATUS = {
    "all_like": CellStatus.ALL_LIKE,
    "not_all_like": CellStatus.CLEARED,
    "refer": CellStatus.REFERRED,
    "not_a_white_cell": CellStatus.DROPPED,
}
SERIOUSNESS = (CellStatus.ALL_LIKE, CellStatus.REFERRED, CellStatus.CLEARED)


@dataclass(frozen=True)
class CellResult:
    """One white cell: its box in the image's own pixels, the model's answer, its status and why."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the pixels of the image as given (x1, y1 exclusive)
    prediction: Prediction
    status: CellStatus
    reason: str | None  # why it is referred (None otherwise)

    @property
    def label(self) -> str:
        return self.prediction.label

    @property
    def confidence(self) -> float:
        return float(self.prediction.confidence)


@dataclass(frozen=True)
class CellsOutcome:
    """What reading a field cell by cell came to (edge_all.triage.decision makes it a FieldResult)."""

    status: Status
    reason: str | None
    prediction: Prediction | None  # the cell that set the field's status; None: none classified
    quality: QualityMetrics | None
    cells: tuple[CellResult, ...]
    scale: ScaleEstimate


def crop_at(rgb: np.ndarray, cx: float, cy: float, size: int) -> np.ndarray:
    """A size x size crop centred on (cx, cy), reflect-padded where it leaves the image."""
    half = size / 2.0
    x0, y0 = int(round(cx - half)), int(round(cy - half))
    h, w = rgb.shape[:2]
    pad = max(0, -x0, -y0, x0 + size - w, y0 + size - h)
    if pad:  # numpy's "reflect" is OpenCV's BORDER_REFLECT_101, and repeats for pads wider than the image
        rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        x0, y0 = x0 + pad, y0 + pad
    return np.ascontiguousarray(rgb[y0 : y0 + size, x0 : x0 + size])


def cell_status(
    prediction: Prediction, role: str, threshold: float, refer_above: float = 1.0
) -> tuple[CellStatus, str | None]:
    """A cell's status: the prediction rule first (unfamiliar, uncertain: referred), then its role."""
    status, reason = decide(prediction, threshold, refer_above)
    if status != Status.CLASSIFIED:
        return CellStatus.REFERRED, reason
    cell = ROLE_STATUS[role]
    if cell is CellStatus.REFERRED:
        return cell, f"{prediction.label}: a class this model always refers"
    return cell, None


class CellReader:
    """One cell model's reading of fields: its scale, crop, stain and roles, prepared once."""

    def __init__(
        self, classifier: Classifier, stain_source: LabStatistics | None = None, refer_above: float = 1.0
    ) -> None:
        """`stain_source`: a commissioned site's LAB statistics (edge_all.site), standardising every
        field with the site's stable estimate instead of its own; None: each field's own.
        `refer_above`: the unfamiliarity threshold (a commissioned site's, never above the bundle's 1.0)."""
        manifest = classifier.manifest
        if (
            manifest is None
            or not manifest.reads_cells
            or manifest.scale is None
            or manifest.cell_crop is None
        ):
            raise ValueError(f"{classifier.model_path}: not a cell model (bundle format 3, reads cells)")
        self.classifier = classifier
        self.um_per_px = manifest.scale.um_per_px
        self.crop_px = manifest.cell_crop.size_px
        self.roles = manifest.label_roles
        self.stain = StainNormaliser(manifest.stain, stain_source)
        self.refer_above = refer_above

    def crops(self, rgb: np.ndarray, cells: tuple[CellBox, ...]) -> np.ndarray:
        """The model-sized crop of every cell, as one (k, h, w, 3) batch."""
        prepared = [self.classifier.prepare(crop_at(rgb, c.cx, c.cy, self.crop_px)) for c in cells]
        height, width = self.classifier.input_size
        return np.stack(prepared) if prepared else np.zeros((0, height, width, 3), np.uint8)

    def read(
        self,
        rgb: np.ndarray,
        quality: QualityThresholds | None,
        threshold: float,
        scale: ScaleEstimate,
        batched: bool = True,
    ) -> CellsOutcome:
        """Judge one field, of known `scale`, cell by cell (see the module docstring); raises the
        classifier's errors."""
        if scale.um_per_px is None:
            raise ValueError("a field is read cell by cell only at a known scale")
        at = to_scale(rgb, scale.um_per_px, self.um_per_px)
        metrics = None
        if quality is not None:
            report = assess(at.rgb, quality, at.um_per_px)
            metrics = report.metrics
            if not report.passed:
                return CellsOutcome(Status.REJECTED, report.reason, None, metrics, (), scale)
        found = find_white_cells(at.rgb, at.um_per_px)
        if not found:
            return CellsOutcome(Status.REJECTED, NO_WHITE_CELL, None, metrics, (), scale)
        batch = self.crops(self.stain(at.rgb), found)
        if batched:
            predictions = self.classifier.predict_batch(batch)
        else:
            predictions = [self.classifier.predict_pixels(crop) for crop in batch]
        height, width = rgb.shape[:2]
        cells = []
        for box, prediction in zip(found, predictions, strict=True):
            status, reason = cell_status(
                prediction, self.roles[prediction.label], threshold, self.refer_above
            )
            cells.append(
                CellResult(box.scaled(at.factor).clipped(width, height).pixels(), prediction, status, reason)
            )
        return field_outcome(tuple(cells), metrics, scale)


def field_outcome(
    cells: tuple[CellResult, ...], metrics: QualityMetrics | None, scale: ScaleEstimate
) -> CellsOutcome:
    """The field's status from its cells: the most serious one's (ALL-like, referred, cleared)."""
    for serious in SERIOUSNESS:
        chosen = [cell for cell in cells if cell.status is serious]
        if not chosen:
            continue
        top = max(chosen, key=lambda cell: cell.confidence)
        counted = sum(cell.status is not CellStatus.DROPPED for cell in cells)
        if serious is CellStatus.ALL_LIKE:
            return CellsOutcome(Status.CLASSIFIED, None, top.prediction, metrics, cells, scale)
        if serious is CellStatus.REFERRED:
            reason = f"{len(chosen)} of {counted} white cells referred ({chosen[0].reason})"
            return CellsOutcome(Status.REFERRED, reason, chosen[0].prediction, metrics, cells, scale)
        return CellsOutcome(Status.CLASSIFIED, None, top.prediction, metrics, cells, scale)
    return CellsOutcome(Status.REJECTED, NO_WHITE_CELL, None, metrics, cells, scale)
