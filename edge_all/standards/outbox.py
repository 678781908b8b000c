"""The hub's outbox toward the hospital: queue a slide's DICOM instances and FHIR report, send what
is due, back off from a destination that fails, and keep every outcome for the slide page.

Like the clinic's outbox: idempotent (deterministic UIDs and a conditional create, so re-sending
is harmless), never silently dropped (each delivery stays pending, sent or refused with a reason),
never blocking: `send_due` sends at most `limit` items, each bounded by the endpoint's time-out, and
the hub runs one such worker per destination beside the worklist, so a PACS that is down, slow or
saying no holds up nothing but its own queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from edge_all.standards.delivery import Delivery, DeliveryStore, Destination, Outcome, State
from edge_all.standards.dicom_slide import part10, slide_instances
from edge_all.standards.fhir_report import fhir_report, report_identifier, report_json
from edge_all.standards.records import SlideExport
from edge_all.standards.uids import UidScheme


class Sender(Protocol):
    destination: Destination

    def send(self, payload: bytes) -> Outcome: ...


@dataclass(frozen=True)
class Backoff:
    """Wait first_s after the first failure, doubling up to most_s: a PACS down for a day is asked
    about once an hour, one that blinked is asked again within a minute."""

    first_s: float = 30.0
    factor: float = 2.0
    most_s: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.most_s, self.first_s * self.factor ** max(0, attempts - 1)))


def queue_slide(
    store: DeliveryStore,
    slide: SlideExport,
    uids: UidScheme,
    now: datetime,
    *,
    pacs: bool = True,
    fhir: bool = True,
) -> list[Delivery]:
    """Build the slide's instances and report and queue them (again: what was sent stays sent)."""
    queued = []
    if pacs:
        instances = slide_instances(slide, uids)
        for number, image in zip(sorted(f.number for f in slide.fields), instances.images, strict=True):
            queued.append(
                store.add(
                    slide.record_id,
                    Destination.PACS,
                    image.SOPInstanceUID,
                    f"field {number}",
                    part10(image),
                    now,
                )
            )
        sr = instances.sr
        queued.append(
            store.add(
                slide.record_id, Destination.PACS, sr.SOPInstanceUID, sr_description(slide), part10(sr), now
            )
        )
    if fhir:
        report = fhir_report(slide, uids)
        _, value = report_identifier(slide, uids)
        words = "FHIR DiagnosticReport" + (" (amended)" if slide.amended else "")
        queued.append(store.add(slide.record_id, Destination.FHIR, value, words, report_json(report), now))
    return queued


def sr_description(slide: SlideExport) -> str:
    """What the slide page calls the SR: a second sign-off's is a new instance beside the first."""
    if not slide.amended:
        return "SR of findings"
    return f"SR of findings, sign-off {len(slide.earlier_sign_offs) + 1} (a new instance; amends the earlier)"


@dataclass(frozen=True)
class Attempt:
    delivery: Delivery
    outcome: Outcome


def send_due(
    store: DeliveryStore, sender: Sender, now: datetime, *, limit: int = 100, backoff: Backoff = Backoff()
) -> list[Attempt]:
    """One pass over what is due for the sender's destination. After a failure that may pass, the
    rest of this pass waits too (the destination is likely down for all of them: asking again for each
    would only take time), so one pass of a dead PACS costs one time-out, not `limit` of them."""
    attempts = []
    for delivery in store.due(sender.destination, now, limit):
        outcome = sender.send(store.payload(delivery.id))
        next_at = now + backoff.delay(delivery.attempts + 1) if outcome.state is State.PENDING else None
        store.record(delivery.id, outcome, now, next_at)
        attempts.append(Attempt(delivery, outcome))
        if outcome.state is State.PENDING:
            break
    return attempts
