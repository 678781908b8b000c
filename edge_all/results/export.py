"""Export capture rows to CSV for a spreadsheet or a LIMS (probabilities stay one JSON column).

Each row also carries its sample's screening call, so a sheet filtered to one slide says its call, and
the sha256 of the site profile its session read with (empty: the station was not commissioned).
Every cell goes through edge_all.safe_text.csv_safe: one beginning like a formula (`=`, `+`, `-`,
`@`) gets a leading `'`, so a sample id can never run as a spreadsheet formula.
"""

from __future__ import annotations

from pathlib import Path

from edge_all.results.store import CAPTURE_COLUMNS, ResultsStore
from edge_all.safe_text import write_csv_rows
from edge_all.safe_write import replacing

CALL_COLUMNS = ("sample_verdict", "sample_call")  # the sample's screening call when exported
SESSION_COLUMNS = ("site_sha256",)  # what the row's session read with


def export_csv(store: ResultsStore, path: Path, sample_id: str | None = None) -> int:
    """Write every capture row (or one sample's) to PATH; returns the number of rows."""
    calls: dict[str | None, dict] = {}
    sites = {session["id"]: session["site_sha256"] for session in store.sessions()}

    def with_call(row: dict) -> dict:
        if row["sample_id"] not in calls:
            sample = store.sample(row["sample_id"]) or {}
            calls[row["sample_id"]] = {
                "sample_verdict": sample.get("verdict"),
                "sample_call": sample.get("call"),
            }
        return {**row, **calls[row["sample_id"]], "site_sha256": sites.get(row["session_id"])}

    with replacing(path, "the CSV export", newline="") as handle:
        rows = (with_call(row) for row in store.captures(sample_id=sample_id))
        return write_csv_rows(handle, [*CAPTURE_COLUMNS, *CALL_COLUMNS, *SESSION_COLUMNS], rows)
