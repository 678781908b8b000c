"""A judged field of view as plain values: the one flattening of a FieldResult (edge_all.triage.decision).

`classify` writes it as JSON and CSV (edge_all.results.batch), a capture records it in the database
(edge_all.capture.session): both take the same values from the same place, so the same picture reads
the same wherever it was judged. Outputs round or format them; the values here are as the model gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge_all.triage.cells import CellResult
from edge_all.triage.decision import FieldResult
from edge_all.triage.status import Status

PROBABILITY_DIGITS = 6  # probabilities are kept to a millionth


@dataclass(frozen=True)
class JudgedCell:
    """One white cell of a field read cell by cell, as plain values (classify's JSON, the cells table)."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image's own pixels (x1, y1 exclusive)
    label: str
    confidence: float
    status: str  # edge_all.triage.cells.CellStatus: all-like, referred, cleared, dropped
    reason: str | None = None
    unfamiliarity: float | None = None

    @classmethod
    def of(cls, cell: CellResult) -> JudgedCell:
        return cls(
            tuple(int(v) for v in cell.box),  # type: ignore[arg-type]
            cell.label,
            float(cell.confidence),
            str(cell.status),
            cell.reason,
            cell.prediction.unfamiliarity,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "box": list(self.box),
            "label": self.label,
            "confidence": round(self.confidence, PROBABILITY_DIGITS),
            "status": self.status,
        }
        if self.reason is not None:
            data["reason"] = self.reason
        if self.unfamiliarity is not None:
            data["unfamiliarity"] = round(self.unfamiliarity, 4)
        return data


@dataclass(frozen=True)
class JudgedField:
    status: Status
    reason: str | None  # why it is not classified, in words
    quality: dict[str, float] | None = None  # the quality measures; None: the gate was off
    label: str | None = None  # the model's best guess (also when uncertain or referred); None: not run
    index: int | None = None
    confidence: float | None = None
    probabilities: dict[str, float] | None = None  # label -> probability, in output order
    inference_ms: float | None = None
    unfamiliarity: float | None = None  # 1.0 is the referral threshold; None: no detector
    # The scale the image was read at and where it came from: {"um_per_px", "source"} (um_per_px None
    # when unknown); None when no scale was looked for.
    scale: dict[str, Any] | None = None
    cells: tuple[JudgedCell, ...] | None = None  # a cell model's white cells; None: a whole-field model
    drift: str | None = None  # read with a site: the warning that it does not look like the site's fields

    @classmethod
    def of(cls, field: FieldResult, labels: Sequence[str]) -> JudgedField:
        quality = field.quality.to_dict() if field.quality is not None else None
        scale = None
        if field.scale is not None:
            scale = {"um_per_px": field.scale.to_dict()["um_per_px"], "source": field.scale.source}
        cells = tuple(JudgedCell.of(cell) for cell in field.cells) if field.read_by_cells else None
        prediction = field.prediction
        if prediction is None:  # rejected (or referred for its scale) before the model ran
            return cls(field.status, field.reason, quality, scale=scale, cells=cells, drift=field.drift)
        return cls(
            drift=field.drift,
            scale=scale,
            cells=cells,
            status=field.status,
            reason=field.reason,
            quality=quality,
            label=prediction.label,
            index=prediction.index,
            confidence=float(prediction.confidence),
            probabilities={
                label: round(float(p), PROBABILITY_DIGITS)
                for label, p in zip(labels, prediction.probabilities, strict=True)
            },
            inference_ms=float(prediction.inference_ms),
            unfamiliarity=prediction.unfamiliarity,
        )

    @property
    def cell_counts(self) -> dict[str, int]:
        """How many of its cells had each status (an empty dict for a whole-field model)."""
        counts: dict[str, int] = {}
        for cell in self.cells or ():
            counts[cell.status] = counts.get(cell.status, 0) + 1
        return counts

    @property
    def predicted(self) -> bool:
        """Whether the model ran on it (not when the quality gate rejected it first)."""
        return self.confidence is not None

    def record_fields(self) -> dict[str, Any]:
        """The values a CaptureRecord takes from it (edge_all.results.store)."""
        fields: dict[str, Any] = {"status": self.status, "reason": self.reason, "quality": self.quality or {}}
        if self.scale is not None:
            fields.update(um_per_px=self.scale["um_per_px"], scale_source=self.scale["source"])
        if self.cells:
            fields["cells"] = self.cells
        if self.drift is not None:
            fields["drift"] = self.drift
        if self.predicted:
            fields.update(
                label=self.label,
                confidence=self.confidence,
                probabilities=self.probabilities,
                inference_ms=self.inference_ms,
                unfamiliarity=self.unfamiliarity,
            )
        return fields
