"""What the outbox keeps about each thing it sends, and the storage it keeps it in, as an interface.

One row per DICOM instance (keyed by its SOP Instance UID) and per FHIR report (keyed by the
report's identifier), with its state: pending (not yet sent, or failed in a way that may pass:
timed out, no answer, a 5xx), sent, or refused (the destination said no, with its reason: that
needs a person, so it waits for one, shown on the slide page). Nothing leaves the store unsent
without a state that says why. The hub implements `DeliveryStore` on its own database;
`edge_all.standards.delivery_sql` is one implementation (SQLAlchemy Core, SQLite in the tests).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Destination(enum.Enum):
    PACS = "pacs"
    FHIR = "fhir"


class State(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    REFUSED = "refused"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: SENT (detail: "stored", "already there"), REFUSED (the destination's
    reason), or PENDING (why it will be tried again: "timed out after 10 s", "HTTP 503 ...")."""

    state: State
    detail: str


@dataclass(frozen=True)
class Delivery:
    id: int
    slide_id: str
    destination: Destination
    key: str  # a SOP Instance UID, or a FHIR report's identifier value
    description: str  # for the slide page: "field 3", "SR", "FHIR DiagnosticReport"
    payload_sha256: str
    state: State
    attempts: int
    next_attempt_at: datetime | None  # when a pending one is due; None once sent or refused
    detail: str  # the last outcome's detail ("" before the first attempt)
    updated_at: datetime


class DeliveryStore(Protocol):
    """The outbox's storage. Every method is one short transaction; times are timezone-aware UTC."""

    def add(
        self,
        slide_id: str,
        destination: Destination,
        key: str,
        description: str,
        payload: bytes,
        now: datetime,
    ) -> Delivery:
        """Queue `payload` under (destination, key). The same key again with the same bytes keeps its
        state (re-sending a slide sends nothing twice); with other bytes it is pending again."""

    def due(self, destination: Destination, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first."""

    def payload(self, delivery_id: int) -> bytes: ...

    def record(
        self, delivery_id: int, outcome: Outcome, now: datetime, next_attempt_at: datetime | None
    ) -> None:
        """Store an attempt's outcome (counting the attempt) and, when pending, when to try next."""

    def retry(self, delivery_id: int, now: datetime) -> None:
        """A person asks for a refused (or pending) delivery to be tried again now."""

    def for_slide(self, slide_id: str) -> list[Delivery]:
        """Every delivery of a slide, for its page."""
