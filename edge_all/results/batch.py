"""How `edge-all classify` reports a batch: a table for people, JSON lines and CSV for machines.

Every file gets a status (edge_all.triage.status): classified, uncertain (below the confidence threshold),
referred (unlike the images the model was trained on), rejected (failed the quality gate) or, when
it could not be read, an error. A result that is not `classified` is never forced into a class: its
label says what it is, and the model's best guess, when there is one, is kept beside it.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edge_all.results.judged import JudgedCell, JudgedField
from edge_all.safe_text import csv_safe, printable, utf8_safe
from edge_all.safe_write import replacing
from edge_all.triage.decision import FieldResult
from edge_all.triage.status import Status

CSV_COLUMNS = (
    "file", "status", "label", "best_label", "confidence", "unfamiliarity", "top_k", "inference_ms",
    "reason", "heatmap", "um_per_px", "scale_source",
)  # fmt: skip


@dataclass(frozen=True)
class FileResult:
    """One input file: how it was judged (with its top-k), or the one-line reason it could not be read."""

    file: Path
    judged: JudgedField | None = None  # None: the file could not be read
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    heatmap: Path | None = None  # the overlay written for it (classify --heatmaps)
    site: str | None = None  # the sha256 of the site profile it was read with (classify --site)

    @property
    def status(self) -> Status:
        return self.judged.status if self.judged is not None else Status.ERROR

    @property
    def label(self) -> str:
        """The class for a classified file; otherwise its status (the best guess is `best_label`)."""
        judged = self.judged
        if judged is not None and judged.status == Status.CLASSIFIED and judged.label is not None:
            return judged.label
        return self.status

    @property
    def best_label(self) -> str | None:
        return self.judged.label if self.judged is not None else None

    @property
    def reason(self) -> str | None:
        return self.error if self.judged is None else self.judged.reason

    def to_dict(self) -> dict:
        data: dict = {"file": utf8_safe(str(self.file)), "status": self.status, "label": self.label}
        if self.judged is None:
            return {**data, "error": utf8_safe(self.error or "")}
        judged = self.judged
        data["reason"] = judged.reason
        if judged.quality is not None:
            data["quality"] = judged.quality
        if judged.scale is not None:
            data["scale"] = judged.scale
        if judged.drift is not None:  # read with a site, and unlike its commissioning fields
            data["drift"] = judged.drift
        if judged.cells is not None:  # a cell model: every white cell, its box in the image's pixels
            data["cells"] = [cell.to_dict() for cell in judged.cells]
        if judged.predicted:
            data.update(
                best_label=judged.label,
                confidence=round(judged.confidence, 6),
                unfamiliarity=None if judged.unfamiliarity is None else round(judged.unfamiliarity, 4),
                index=judged.index,
                top_k=[{"label": label, "probability": round(p, 6)} for label, p in self.top_k],
                inference_ms=round(judged.inference_ms, 3),
            )
        if self.heatmap is not None:
            data["heatmap"] = utf8_safe(str(self.heatmap))
        if self.site is not None:
            data["site_sha256"] = self.site
        return data


def make_result(file: Path, field_result: FieldResult, labels: list[str], top_k: int) -> FileResult:
    prediction = field_result.prediction
    return FileResult(
        file=file,
        judged=JudgedField.of(field_result, labels),
        top_k=prediction.top_k(labels, top_k) if prediction is not None else [],
    )


def json_line(result: FileResult) -> str:
    return json.dumps(result.to_dict(), ensure_ascii=False)


def write_csv(path: Path, results: list[FileResult]) -> None:
    """Text cells (file names, labels, errors) go through csv_safe: valid UTF-8, never a formula."""
    with replacing(path, "the CSV of results", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            judged = result.judged if result.judged is not None and result.judged.predicted else None
            writer.writerow(
                [
                    csv_safe(str(result.file)),
                    result.status,
                    csv_safe(result.label),
                    csv_safe(result.best_label or ""),
                    f"{judged.confidence:.4f}" if judged else "",
                    f"{judged.unfamiliarity:.3f}" if judged and judged.unfamiliarity is not None else "",
                    csv_safe(";".join(f"{label}:{p:.4f}" for label, p in result.top_k)),
                    f"{judged.inference_ms:.3f}" if judged else "",
                    csv_safe(result.reason or ""),
                    csv_safe(str(result.heatmap)) if result.heatmap is not None else "",
                    *_scale_cells(result),
                ]
            )


def _scale_cells(result: FileResult) -> list[str]:
    scale = result.judged.scale if result.judged is not None else None
    if scale is None:
        return ["", ""]
    return ["" if scale["um_per_px"] is None else f"{scale['um_per_px']:.4f}", str(scale["source"])]


def format_table(results: list[FileResult]) -> str:
    """Aligned plain-text table of the judged files (unreadable ones are reported on stderr instead)."""
    rows = [("FILE", "RESULT", "CONFIDENCE", "ALTERNATIVES / REASON")]
    cell_lines: dict[int, list[str]] = {}  # under a row: each white cell's box and class
    for result in results:
        if result.judged is None:
            continue
        if result.judged.cells:
            cell_lines[len(rows)] = [printable(cell_line(cell)) for cell in result.judged.cells]
        judged = result.judged
        if not judged.predicted:  # rejected by the quality gate: the model did not run
            row = (str(result.file), result.status, "-", result.reason or "")
        else:
            label = (
                result.label if result.status == Status.CLASSIFIED else f"{result.status} ({judged.label}?)"
            )
            detail = "; ".join(f"{name} {p:.2f}" for name, p in result.top_k[1:])
            if result.status != Status.CLASSIFIED:
                detail = result.reason or detail
            row = (str(result.file), label, f"{judged.confidence:.3f}", detail)
        rows.append(tuple(printable(cell) for cell in row))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        )
        lines.extend(cell_lines.get(n, ()))
    return "\n".join(lines)


def cell_line(cell: JudgedCell) -> str:
    """One white cell under its file's row: `  cell [x0, y0, x1, y1] label 0.97 all-like (reason)`."""
    box = ", ".join(map(str, cell.box))
    why = f" ({cell.reason})" if cell.reason else ""
    return f"  cell [{box}] {cell.label} {cell.confidence:.3f} {cell.status}{why}"


def format_summary(results: list[FileResult], labels: list[str], threshold: float) -> str:
    """Per-class counts of classified files, then the files set aside by status: what the batch amounts to."""
    statuses = Counter(result.status for result in results)
    classes = Counter(result.label for result in results if result.status == Status.CLASSIFIED)
    judged = sum(statuses[s] for s in Status if s != Status.ERROR)
    lines = [
        f"Summary: {judged} judged ({statuses[Status.CLASSIFIED]} classified), "
        f"{statuses[Status.ERROR]} unreadable"
    ]
    # Small label sets (this project's 4 classes) list every class, zeros included; large ones
    # (ImageNet's 1001) only the classes that occurred.
    shown = [label for label in labels if len(labels) <= 20 or classes.get(label)]
    notes = {
        Status.UNCERTAIN: f"confidence < {threshold:g}",
        Status.REFERRED: "unlike the training images",
        Status.REJECTED: "failed the quality gate",
    }
    rows = [(printable(label), classes.get(label, 0), "") for label in shown]
    rows += [(status, statuses[status], note) for status, note in notes.items()]
    width = max(len(name) for name, _, _ in rows)
    for name, count, note in rows:
        share = 100.0 * count / judged if judged else 0.0
        lines.append(f"  {name:<{width}}  {count:>6}  {share:5.1f}%" + (f"  ({note})" if note else ""))
    cells: Counter[str] = Counter()
    for result in results:
        if result.judged is not None:
            cells.update(result.judged.cell_counts)
    if any(result.judged is not None and result.judged.cells is not None for result in results):
        counted = sum(n for status, n in cells.items() if status != "dropped")
        parts = ", ".join(f"{status} {cells[status]}" for status in ("all-like", "referred", "cleared"))
        lines.append(f"  white cells {counted} ({parts}; {cells['dropped']} not white cells)")
    lines.append("A screening aid, not a diagnosis: a specialist reviews every slide.")
    return "\n".join(lines)
