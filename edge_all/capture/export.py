"""Export capture rows to CSV for a spreadsheet or a LIMS (probabilities stay one JSON column)."""

from __future__ import annotations

import csv
from pathlib import Path

from edge_all.capture.store import CAPTURE_COLUMNS, ResultsStore


def export_csv(store: ResultsStore, path: Path, sample_id: str | None = None) -> int:
    """Write every capture row (or one sample's) to PATH; returns the number of rows."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CAPTURE_COLUMNS))
        writer.writeheader()
        for row in store.captures(sample_id=sample_id):
            writer.writerow(row)
            count += 1
    return count
