"""What the station shows of the hospital link: the hub's sign-offs of a slide and the outbox's state.

Read from the outbox beside the results database (edge_all.sync.outbox), which `edge-all sync` fills
and drains; a station whose clinic is not enrolled has no outbox and shows nothing of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from edge_all.sync.outbox import Outbox, OutboxError, OutboxState, outbox_path

WARN_PENDING = 200  # records waiting: the link has been down a while
WARN_AGE = timedelta(hours=24)  # or the oldest has waited a day


@dataclass(frozen=True)
class LinkWarning:
    pending: int
    oldest: str | None
    last_ok_at: str | None


def _outbox(db: Path) -> Outbox | None:
    path = outbox_path(db)
    if not path.is_file():
        return None
    try:
        return Outbox(path)
    except OutboxError:
        return None


def hospital_reviews(db: Path, sample_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The hub's reviews and sign-offs of these slides, oldest first, by sample id."""
    outbox = _outbox(db)
    if outbox is None:
        return {}
    with outbox:
        return {sample: reviews for sample in sample_ids if (reviews := outbox.hub_reviews(sample))}


def link_warning(db: Path) -> LinkWarning | None:
    """A warning for every page when the outbox has grown past WARN_PENDING or waited past WARN_AGE."""
    outbox = _outbox(db)
    if outbox is None:
        return None
    with outbox:
        state: OutboxState = outbox.state()
    old = (
        state.oldest is not None
        and datetime.fromisoformat(state.oldest) < datetime.now(timezone.utc) - WARN_AGE
    )
    if state.pending >= WARN_PENDING or (state.pending and old):
        return LinkWarning(state.pending, state.oldest, state.last_ok_at)
    return None
