"""The hub's side of the standards outbox: export requests (on sign-off, or a person's request), the
worker's steps (build what was requested and queue it; send what is due, per destination), each
instance's state for the slide page, a person's "send again", and the downloads. Every request,
build, attempt, retry and download is written to the hub's append-only audit.

The deliveries live in the hub's own database (`SqlDeliveryStore` on the hub's engine, its table made
by the hub's migration h002), so a restarted hub goes on where it stopped and several hub processes
on one PostgreSQL share one queue.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, insert, select, update

from edge_all.accounts import clock
from edge_all.accounts.audit import Actor, record
from edge_all.accounts.people import Accounts
from edge_all.hub.blobs import BlobStore
from edge_all.hub.schema import hub_installation, standards_exports
from edge_all.hub.standards_export import slide_export, slide_record_id
from edge_all.hub.standards_settings import StandardsSettings
from edge_all.hub.storage import HubStore
from edge_all.standards.delivery import Delivery, Destination, State
from edge_all.standards.delivery_sql import SqlDeliveryStore
from edge_all.standards.dicom_slide import part10, slide_instances
from edge_all.standards.errors import ExportError
from edge_all.standards.fhir_report import fhir_report, report_json
from edge_all.standards.fhir_send import FhirSender
from edge_all.standards.outbox import Sender, queue_slide, send_due
from edge_all.standards.pacs import StowSender
from edge_all.standards.uids import UidScheme

log = logging.getLogger("edge_all.hub.standards")
WORKER = Actor("system:standards-worker", "system")
WORDS = {Destination.PACS: "PACS", Destination.FHIR: "FHIR server"}


@dataclass(frozen=True)
class ExportRequest:
    id: int
    reason: str
    requested_by: str
    requested_at: str
    built_at: str | None
    error: str | None


def installation_id(engine: Engine) -> str:
    """The hub's installation id, made once by its migration: the namespace of its DICOM UIDs."""
    with engine.connect() as connection:
        return connection.execute(
            select(hub_installation.c.installation_id).where(hub_installation.c.id == 1)
        ).scalar_one()


def _now() -> datetime:
    return datetime.fromisoformat(clock.now_iso()).astimezone(timezone.utc)


class HubStandards:
    def __init__(
        self,
        engine: Engine,
        store: HubStore,
        accounts: Accounts,
        blobs: BlobStore,
        settings: StandardsSettings,
    ) -> None:
        self.engine, self.store, self.accounts, self.blobs = engine, store, accounts, blobs
        self.settings = settings
        self.uids = UidScheme(installation_id(engine))
        self.deliveries = SqlDeliveryStore(engine)
        self.senders: list[Sender] = []
        if settings.pacs is not None:
            self.senders.append(StowSender(settings.pacs))
        if settings.fhir is not None:
            self.senders.append(FhirSender(settings.fhir))

    # ---- what a person asks -----------------------------------------------------------------------
    def request(self, slide: dict, actor: Actor, reason: str, client: str = "") -> int | None:
        """Ask the worker to build and queue the slide; None when no destination is configured."""
        if not self.settings.any:
            return None
        with self.engine.begin() as connection:
            request_id = connection.execute(
                insert(standards_exports).values(
                    slide_id=slide["id"], reason=reason, requested_by=actor.name, requested_at=clock.now_iso()
                )
            ).inserted_primary_key[0]  # fmt: skip
            record(connection, actor, "export to PACS and FHIR requested", _subject(slide),
                   clinic_id=slide["clinic_id"], client=client,
                   detail={"reason": reason, "request": request_id})  # fmt: skip
        return int(request_id)

    def retry(self, slide: dict, delivery_id: int, actor: Actor, client: str = "") -> bool:
        ours = [d for d in self.deliveries.for_slide(slide_record_id(slide["id"])) if d.id == delivery_id]
        if not ours or ours[0].state is State.SENT:
            return False
        self.deliveries.retry(delivery_id, _now())
        with self.engine.begin() as connection:
            record(connection, actor, f"send to {WORDS[ours[0].destination]} again", _subject(slide),
                   clinic_id=slide["clinic_id"], client=client,
                   detail={"delivery": delivery_id, "what": ours[0].description,
                           "was": ours[0].state.value, "detail": ours[0].detail})  # fmt: skip
        return True

    # ---- the slide page ---------------------------------------------------------------------------
    def for_slide(self, slide_id: int) -> list[Delivery]:
        return self.deliveries.for_slide(slide_record_id(slide_id))

    def latest_request(self, slide_id: int) -> ExportRequest | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(standards_exports).where(standards_exports.c.slide_id == slide_id)
                .order_by(standards_exports.c.id.desc()).limit(1)
            ).mappings().first()  # fmt: skip
        return ExportRequest(**{k: row[k] for k in ExportRequest.__dataclass_fields__}) if row else None

    # ---- downloads (built on demand, audited) -------------------------------------------------------
    def _export(self, slide: dict):
        clinic = self.accounts.clinic(slide["clinic_id"])
        return slide_export(
            self.store, self.blobs, slide["id"], clinic.name if clinic else slide["clinic_id"]
        )

    def fhir_json(self, slide: dict, actor: Actor, client: str = "") -> bytes:
        data = report_json(fhir_report(self._export(slide), self.uids))
        self._audit_download(slide, actor, client, "download FHIR report", 1)
        return data

    def dicom_zip(self, slide: dict, actor: Actor, client: str = "") -> bytes:
        instances = slide_instances(self._export(slide), self.uids)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for number, image in enumerate(instances.images, 1):
                archive.writestr(f"field-{number:03d}.dcm", part10(image))
            archive.writestr("findings-sr.dcm", part10(instances.sr))
        self._audit_download(slide, actor, client, "download DICOM", len(instances.all))
        return buffer.getvalue()

    def _audit_download(self, slide: dict, actor: Actor, client: str, action: str, count: int) -> None:
        with self.engine.begin() as connection:
            record(connection, actor, action, _subject(slide), clinic_id=slide["clinic_id"], client=client,
                   detail={"instances": count})  # fmt: skip

    # ---- the worker's steps ---------------------------------------------------------------------------
    def build_requested(self, limit: int = 20) -> int:
        """Build every slide with an open request and queue its instances and report; returns how many.

        A slide requested twice is built once. One that cannot be exported gets its reason on the
        request (shown on the slide page, audited); the others go on."""
        with self.engine.connect() as connection:
            todo = connection.execute(
                select(standards_exports.c.slide_id).where(standards_exports.c.built_at.is_(None))
                .group_by(standards_exports.c.slide_id).order_by(standards_exports.c.slide_id).limit(limit)
            ).scalars().all()  # fmt: skip
        for slide_id in todo:
            self._build(slide_id)
        return len(todo)

    def _build(self, slide_id: int) -> None:
        slide = self.store.slide(slide_id)
        error, queued = None, []
        if slide is None:
            error = "the slide was purged"
        else:
            try:
                queued = queue_slide(
                    self.deliveries, self._export(slide), self.uids, _now(),
                    pacs=self.settings.pacs is not None, fhir=self.settings.fhir is not None,
                )  # fmt: skip
            except ExportError as problem:
                error = str(problem)
                log.warning("cannot export slide %s: %s", slide_id, error)
        with self.engine.begin() as connection:
            connection.execute(
                update(standards_exports)
                .where(standards_exports.c.slide_id == slide_id, standards_exports.c.built_at.is_(None))
                .values(built_at=clock.now_iso(), error=error)
            )
            if slide is not None:
                detail = {"error": error} if error else {
                    "queued": [d.description for d in queued],
                    "pending": sum(d.state is State.PENDING for d in queued),
                }  # fmt: skip
                record(connection, WORKER, "export refused" if error else "export built", _subject(slide),
                       clinic_id=slide["clinic_id"], detail=detail)  # fmt: skip

    def send(self, sender: Sender, limit: int = 100) -> int:
        """One pass of `send_due` for one destination, each attempt audited. Returns how many were
        settled (sent or refused) when the pass ended well, 0 when it ended on a failure that may
        pass: then the worker waits its interval (the backoff holds the failed one back)."""
        attempts = send_due(self.deliveries, sender, _now(), limit=limit, backoff=self.settings.backoff)
        if not attempts:
            return 0
        settled = 0 if attempts[-1].outcome.state is State.PENDING else len(attempts)
        slides = {
            key: self.store.slide(int(key.split("-", 1)[1]))
            for key in {a.delivery.slide_id for a in attempts}
        }
        with self.engine.begin() as connection:
            for attempt in attempts:
                delivery, outcome = attempt.delivery, attempt.outcome
                slide = slides[delivery.slide_id]
                words = WORDS[delivery.destination]
                action = {State.SENT: f"sent to {words}", State.REFUSED: f"refused by {words}",
                          State.PENDING: f"to {words}: will try again"}[outcome.state]  # fmt: skip
                record(
                    connection, WORKER, action,
                    _subject(slide) if slide else f"slide {delivery.slide_id}",
                    clinic_id=slide["clinic_id"] if slide else None,
                    detail={"what": delivery.description, "key": delivery.key, "detail": outcome.detail,
                            "attempt": delivery.attempts + 1},
                )  # fmt: skip
        return settled


def _subject(slide: dict) -> str:
    return f"slide {slide['clinic_id']}/{slide['sample_id']}"
