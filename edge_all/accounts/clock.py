"""Instants as the accounts and the hub store them: ISO 8601 UTC text with milliseconds.

Text rather than a database timestamp type: it reads the same from SQLite and PostgreSQL, sorts in
time order, and matches what the clinic's results database records.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def now_iso() -> str:
    return iso(now())


def later_iso(seconds: float) -> str:
    return iso(now() + timedelta(seconds=seconds))
