"""CSV of one slide, or of every field captured between two local dates, with the reviews beside them.

The columns are those of `edge-all results export` (every capture column and the sample's call),
then the latest review of the field and of its sample; every cell goes through edge_all.safe_text.csv_safe,
so a sample id or a comment cannot run as a spreadsheet formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from edge_all.errors import UsageError
from edge_all.results.export import CALL_COLUMNS
from edge_all.results.store import CAPTURE_COLUMNS, ResultsStore
from edge_all.safe_text import write_csv_rows

REVIEW_COLUMNS = ("review_decision", "reviewer", "reviewed_at", "review_comment")
SAMPLE_REVIEW_COLUMNS = tuple(f"sample_{name}" for name in REVIEW_COLUMNS)
COLUMNS = (*CAPTURE_COLUMNS, *CALL_COLUMNS, *REVIEW_COLUMNS, *SAMPLE_REVIEW_COLUMNS)


def utc_bounds(first: str, last: str) -> tuple[str, str]:
    """The UTC instants that bound the local dates `first` to `last`, both included (YYYY-MM-DD)."""
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise UsageError("dates are written YYYY-MM-DD") from None
    if end < start:
        raise UsageError("the last date is before the first")

    def instant(day: date) -> str:
        local = datetime.combine(day, time.min).astimezone()  # local midnight, this station's zone
        return local.astimezone(timezone.utc).isoformat(timespec="milliseconds")

    return instant(start), instant(end + timedelta(days=1))


def _review_cells(review: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    if review is None:
        return {}
    return {
        f"{prefix}review_decision": review["decision"],
        f"{prefix}reviewer": review["reviewer"],
        f"{prefix}reviewed_at": review["reviewed_at"],
        f"{prefix}review_comment": review["comment"],
    }


def _with_calls_and_reviews(store: ResultsStore, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    samples: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = row["sample_id"] or ""
        if key not in samples:
            sample = store.sample(key) or {}
            reviews = store.reviews(key)  # oldest first: the last one of each field wins
            samples[key] = {
                "call": {"sample_verdict": sample.get("verdict"), "sample_call": sample.get("call")},
                "fields": {review["capture_id"]: review for review in reviews if review["capture_id"]},
                "sample": next((r for r in reversed(reviews) if r["capture_id"] is None), None),
            }
        known = samples[key]
        yield {
            **row, **known["call"], **_review_cells(known["fields"].get(row["id"])),
            **_review_cells(known["sample"], "sample_"),
        }  # fmt: skip


def slide_csv(store: ResultsStore, sample_id: str) -> tuple[str, int]:
    """One slide's fields as CSV text, and how many rows."""
    rows = store.captures(sample_id=sample_id or None)
    return _csv(store, rows)


def range_csv(store: ResultsStore, first: str, last: str) -> tuple[str, int]:
    """Every field captured from local date `first` to `last` (both included) as CSV text."""
    start, end = utc_bounds(first, last)
    return _csv(store, store.captures_between(start, end))


def _csv(store: ResultsStore, rows: Iterable[dict[str, Any]]) -> tuple[str, int]:
    handle = io.StringIO()
    count = write_csv_rows(handle, COLUMNS, _with_calls_and_reviews(store, rows))
    return handle.getvalue(), count
