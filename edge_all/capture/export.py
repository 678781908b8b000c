"""Export capture rows to CSV for a spreadsheet or a LIMS (probabilities stay one JSON column).

Each row also carries its sample's screening call, so a sheet filtered to one slide says its call.
"""

from __future__ import annotations

import csv
from pathlib import Path

from edge_all.capture.store import CAPTURE_COLUMNS, ResultsStore

CALL_COLUMNS = ("sample_verdict", "sample_call")  # the sample's screening call when exported


def export_csv(store: ResultsStore, path: Path, sample_id: str | None = None) -> int:
    """Write every capture row (or one sample's) to PATH; returns the number of rows."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*CAPTURE_COLUMNS, *CALL_COLUMNS])
        writer.writeheader()
        calls: dict[str | None, dict] = {}
        for row in store.captures(sample_id=sample_id):
            if row["sample_id"] not in calls:
                sample = store.sample(row["sample_id"]) or {}
                calls[row["sample_id"]] = {
                    "sample_verdict": sample.get("verdict"),
                    "sample_call": sample.get("call"),
                }
            writer.writerow({**row, **calls[row["sample_id"]]})
            count += 1
    return count
