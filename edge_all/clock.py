"""The one clock every record is stamped with: ISO 8601, UTC, to the millisecond."""

from __future__ import annotations

from datetime import datetime, timezone


def now_iso() -> str:
    """This instant as ISO 8601 in UTC with milliseconds (`2026-01-02T09:00:00.000+00:00`), which sorts
    as text in time order: how the results database, the station and reviews record when."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
