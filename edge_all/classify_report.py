"""How `edge-all classify` reports a batch: a table for people, JSON lines and CSV for machines.

A result below the confidence threshold is reported as `uncertain` (with its best guess kept
beside it) rather than forced into a class: a screening tool must say when it does not know.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edge_all.classifier import Prediction
from edge_all.safe_text import csv_safe, printable, utf8_safe

UNCERTAIN = "uncertain"
CSV_COLUMNS = ("file", "label", "confidence", "uncertain", "best_label", "top_k", "inference_ms", "error")


@dataclass(frozen=True)
class FileResult:
    """One input file: either a prediction (with its top-k) or the one-line reason it failed."""

    file: Path
    prediction: Prediction | None = None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    uncertain: bool = False
    error: str | None = None

    @property
    def label(self) -> str:
        if self.prediction is None:
            return ""
        return UNCERTAIN if self.uncertain else self.prediction.label

    def to_dict(self) -> dict:
        if self.prediction is None:
            return {"file": utf8_safe(str(self.file)), "error": utf8_safe(self.error or "")}
        return {
            "file": utf8_safe(str(self.file)),
            "label": self.label,
            "confidence": round(self.prediction.confidence, 6),
            "uncertain": self.uncertain,
            "best_label": self.prediction.label,
            "index": self.prediction.index,
            "top_k": [{"label": label, "probability": round(p, 6)} for label, p in self.top_k],
            "inference_ms": round(self.prediction.inference_ms, 3),
        }


def make_result(
    file: Path, prediction: Prediction, labels: list[str], top_k: int, threshold: float
) -> FileResult:
    return FileResult(
        file=file,
        prediction=prediction,
        top_k=prediction.top_k(labels, top_k),
        uncertain=prediction.confidence < threshold,
    )


def json_line(result: FileResult) -> str:
    return json.dumps(result.to_dict(), ensure_ascii=False)


def write_csv(path: Path, results: list[FileResult]) -> None:
    """Text cells (file names, labels, errors) go through csv_safe: valid UTF-8, never a formula."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            file = csv_safe(str(result.file))
            if result.prediction is None:
                writer.writerow([file, "", "", "", "", "", "", csv_safe(result.error)])
                continue
            top = ";".join(f"{label}:{p:.4f}" for label, p in result.top_k)
            writer.writerow(
                [
                    file,
                    csv_safe(result.label),
                    f"{result.prediction.confidence:.4f}",
                    str(result.uncertain).lower(),
                    csv_safe(result.prediction.label),
                    csv_safe(top),
                    f"{result.prediction.inference_ms:.3f}",
                    "",
                ]
            )


def format_table(results: list[FileResult]) -> str:
    """Aligned plain-text table of the classified files (failures are reported on stderr instead)."""
    rows = [("FILE", "LABEL", "CONFIDENCE", "ALTERNATIVES")]
    for result in results:
        if result.prediction is None:
            continue
        label = f"{UNCERTAIN} ({result.prediction.label}?)" if result.uncertain else result.label
        alternatives = "; ".join(f"{name} {p:.2f}" for name, p in result.top_k[1:])
        row = (str(result.file), label, f"{result.prediction.confidence:.3f}", alternatives)
        rows.append(tuple(printable(cell) for cell in row))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        for row in rows
    )


def format_summary(results: list[FileResult], labels: list[str], failed: int, threshold: float) -> str:
    """Per-class counts, uncertain and failed files: what the batch amounts to."""
    classified = [r for r in results if r.prediction is not None]
    counts = Counter(r.label for r in classified)
    lines = [f"Summary: {len(classified)} classified, {failed} failed"]
    # Small label sets (this project's 4 classes) list every class, zeros included; large ones
    # (ImageNet's 1001) only the classes that occurred.
    shown = [label for label in labels if len(labels) <= 20 or counts.get(label)]
    if threshold > 0:
        shown.append(UNCERTAIN)
    width = max((len(label) for label in shown), default=0)
    for label in shown:
        share = 100.0 * counts.get(label, 0) / len(classified) if classified else 0.0
        note = f"  (confidence < {threshold:g})" if label == UNCERTAIN else ""
        lines.append(f"  {printable(label):<{width}}  {counts.get(label, 0):>6}  {share:5.1f}%{note}")
    lines.append("A screening aid, not a diagnosis: a specialist reviews every slide.")
    return "\n".join(lines)
