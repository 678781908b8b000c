"""Instants as accounts and the hub store them: edge_all.clock's ISO 8601 UTC text with milliseconds
(it reads the same from SQLite and PostgreSQL and sorts in time order), and instants some seconds away
(lock-outs, expiry) in the same form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from edge_all.clock import now_iso

__all__ = ["later_iso", "now_iso"]


def later_iso(seconds: float) -> str:
    """The instant `seconds` from now (negative: ago), formatted as now_iso formats."""
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
