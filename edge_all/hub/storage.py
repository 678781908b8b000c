"""The hub's records: what clinics sent, what specialists decided, read back for the worklist.

Every write that a person or a device makes commits with its audit row. A record from a clinic is
stored at most once: its client-made id is unique in its table, and a resend with the same sha256 is
answered "duplicate" (confirmed, nothing written), a resend with another sha256 is refused (409).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from edge_all.accounts import clock
from edge_all.accounts.audit import Actor, record
from edge_all.accounts.people import Person
from edge_all.hub.schema import blobs, cells, fields, reviews, slide_calls, slides
from edge_all.sync.protocol import body_sha256
from edge_all.triage.screening import BENIGN_LABEL, INCONCLUSIVE, NO_ALL, REFER, not_all_like_labels

SIGNOFF_DECISIONS = (REFER, NO_ALL, INCONCLUSIVE)
TABLES = {"field": fields, "slide_call": slide_calls, "review": reviews}


@dataclass(frozen=True)
class Outcome:
    """What became of one record: stored, duplicate (already held: confirmed) or refused (status, why)."""

    id: str
    outcome: str
    status: int = 200
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "outcome": self.outcome, "status": self.status, "why": self.why}


def _all_like(body: dict[str, Any]) -> bool:
    """Classified ALL-like, read as the clinic's call reads it: by the session's label roles (a cell
    model's), else every label but Benign (a whole-field model's, and every protocol 1 body)."""
    roles = body["session"].get("label_roles")
    return body["status"] == "classified" and body["label"] not in not_all_like_labels(roles)


def _flags_field(body: dict[str, Any]) -> bool:
    return body["status"] in ("referred", "uncertain") or _all_like(body)


def _cell_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The body's cells ([x, y, width, height]) as rows of the cells table, numbered as sent."""
    rows = []
    for number, cell in enumerate(body.get("cells") or (), start=1):
        x, y, w, h = (float(v) for v in cell["box"])
        rows.append({
            "number": number, "x0": x, "y0": y, "x1": x + w, "y1": y + h, "label": cell["label"],
            "confidence": cell.get("confidence"), "status": cell.get("status"), "reason": cell.get("reason"),
            "unfamiliarity": cell.get("unfamiliarity"),
        })  # fmt: skip
    return rows


class HubStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- ingest (a device's records) ---------------------------------------------------------------
    def ingest(self, device_id: int, clinic_id: str, item: dict[str, Any]) -> Outcome:
        """Store one schema-checked record from a device of `clinic_id`, or say why not."""
        rid, kind, body = item["id"], item["kind"], item["body"]
        if body_sha256(body) != item["sha256"]:
            return Outcome(rid, "refused", 422, "sha256 does not match the body")
        if body["clinic"] != clinic_id:
            return Outcome(
                rid, "refused", 403, f"this device writes for clinic {clinic_id}, not {body['clinic']}"
            )
        table = TABLES[kind]
        try:
            with self.engine.begin() as connection:
                held = connection.execute(
                    select(table.c.record_sha256).where(table.c.record_id == rid)
                ).scalar_one_or_none()
                if held is not None:
                    return self._resent(rid, held, item["sha256"])
                why = getattr(self, f"_store_{kind}")(
                    connection, device_id, clinic_id, rid, item["sha256"], body
                )
                if why is not None:
                    connection.rollback()
                    return Outcome(rid, "refused", 409, why)
        except IntegrityError:  # the same record arriving twice at once: the other one stored it
            with self.engine.connect() as connection:
                held = connection.execute(
                    select(table.c.record_sha256).where(table.c.record_id == rid)
                ).scalar_one_or_none()
            if held is None:
                raise
            return self._resent(rid, held, item["sha256"])
        return Outcome(rid, "stored", 201)

    @staticmethod
    def _resent(rid: str, held: str, sent: str) -> Outcome:
        if held == sent:
            return Outcome(rid, "duplicate", 200)
        return Outcome(
            rid, "refused", 409, "this record id was already used for different content (replayed?)"
        )

    def _slide(self, connection: Connection, clinic_id: str, sample_id: str, now: str) -> int:
        """The slide's id, made if new (under a savepoint: another request may make it first)."""
        query = select(slides.c.id).where(slides.c.clinic_id == clinic_id, slides.c.sample_id == sample_id)
        found = connection.execute(query).scalar_one_or_none()
        if found is not None:
            return found
        try:
            with connection.begin_nested():
                return connection.execute(
                    insert(slides).values(
                        clinic_id=clinic_id, sample_id=sample_id, first_received_at=now,
                        last_received_at=now, flagged=False,
                    )
                ).inserted_primary_key[0]  # fmt: skip
        except IntegrityError:
            return connection.execute(query).scalar_one()

    def _store_field(self, connection, device_id, clinic_id, rid, sha, body) -> str | None:
        image = body["image_sha256"]
        if (
            image is not None
            and connection.execute(select(blobs.c.sha256).where(blobs.c.sha256 == image)).first() is None
        ):
            return "its picture has not been uploaded yet (PUT the blob first)"
        now = clock.now_iso()
        slide_id = self._slide(connection, clinic_id, body["sample_id"], now)
        session = body["session"]
        scale = body.get("scale") or {}
        field_id = connection.execute(
            insert(fields).values(
                record_id=rid, record_sha256=sha, slide_id=slide_id, device_id=device_id, received_at=now,
                captured_at=body["captured_at"], frame_index=body["frame_index"], status=body["status"],
                label=body["label"], confidence=body["confidence"], unfamiliarity=body["unfamiliarity"],
                reason=body["reason"], image_sha256=image, model=session["model"],
                bundle_sha256=session["bundle_sha256"], site_profile_sha256=session["site_profile_sha256"],
                payload=json.dumps(body, sort_keys=True), field_number=body.get("field_number"),
                um_per_px=scale.get("um_per_px"), scale_source=scale.get("source"), all_like=_all_like(body),
            )
        ).inserted_primary_key[0]  # fmt: skip
        cell_rows = _cell_rows(body)
        if cell_rows:
            connection.execute(
                insert(cells), [{**row, "field_id": field_id, "slide_id": slide_id} for row in cell_rows]
            )
        values: dict[str, Any] = {
            "last_received_at": now, "last_field_at": now, "model": session["model"],
            "bundle_sha256": session["bundle_sha256"], "site_profile_sha256": session["site_profile_sha256"],
        }  # fmt: skip
        if _flags_field(body):
            values["flagged"] = True
        connection.execute(update(slides).where(slides.c.id == slide_id).values(**values))
        return None

    def _store_slide_call(self, connection, device_id, clinic_id, rid, sha, body) -> str | None:
        now = clock.now_iso()
        slide_id = self._slide(connection, clinic_id, body["sample_id"], now)
        connection.execute(
            insert(slide_calls).values(
                record_id=rid, record_sha256=sha, slide_id=slide_id, received_at=now, verdict=body["verdict"],
                call=body["call"], payload=json.dumps(body, sort_keys=True),
            )
        )  # fmt: skip
        current = connection.execute(select(slides.c.counts).where(slides.c.id == slide_id)).scalar_one()
        if current is None or json.loads(current)["fields"] <= body["counts"]["fields"]:  # calls may cross
            values = {
                "verdict": body["verdict"], "call": body["call"], "counts": json.dumps(body["counts"]),
                "first_captured_at": body["first_captured_at"], "last_captured_at": body["last_captured_at"],
                "last_received_at": now,
            }  # fmt: skip
            if body["verdict"] == REFER:
                values["flagged"] = True
            connection.execute(update(slides).where(slides.c.id == slide_id).values(**values))
        return None

    def _store_review(self, connection, device_id, clinic_id, rid, sha, body) -> str | None:
        now = clock.now_iso()
        slide_id = self._slide(connection, clinic_id, body["sample_id"], now)
        field_id = None
        if body["field_id"] is not None:
            field_id = connection.execute(
                select(fields.c.id).where(
                    fields.c.record_id == body["field_id"], fields.c.slide_id == slide_id
                )
            ).scalar_one_or_none()
            if field_id is None:
                return "the field it reviews has not arrived yet"
        connection.execute(
            insert(reviews).values(
                record_id=rid, record_sha256=sha, slide_id=slide_id, field_id=field_id, origin="clinic",
                signoff=False, reviewer=body["reviewer"], person_id=None, decision=body["decision"],
                comment=body["comment"], reviewed_at=body["reviewed_at"], received_at=now,
                payload=json.dumps(body, sort_keys=True),
            )
        )  # fmt: skip
        connection.execute(update(slides).where(slides.c.id == slide_id).values(last_received_at=now))
        return None

    def add_blob(self, sha256: str, size: int, dimensions: tuple[int, int] | None = None) -> None:
        """List a stored picture, with its (width, height) when it could be read (the cells' frame)."""
        width, height = dimensions or (None, None)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(blobs).values(
                        sha256=sha256, size=size, stored_at=clock.now_iso(), width=width, height=height
                    )
                )
        except IntegrityError:
            pass  # held already

    def has_blob(self, sha256: str) -> bool:
        with self.engine.connect() as connection:
            return (
                connection.execute(select(blobs.c.sha256).where(blobs.c.sha256 == sha256)).first() is not None
            )

    # ---- the worklist and a slide ---------------------------------------------------------------------
    def worklist(
        self, person: Person, show: str = "open", clinic: str | None = None, limit: int = 200
    ) -> list[dict]:
        """Slides this person may see: to review first (flagged, then oldest), then the rest."""
        changed = and_(slides.c.signed_off_at.is_not(None), slides.c.last_field_at > slides.c.signed_off_at)
        open_ = or_(slides.c.signed_off_at.is_(None), changed)
        query = select(slides, changed.label("changed")).where(slides.c.purge_started_at.is_(None))
        if person.role != "administrator":
            query = query.where(slides.c.clinic_id.in_(person.clinics))
        if clinic:
            query = query.where(slides.c.clinic_id == clinic)
        if show == "open":
            query = query.where(open_)
        elif show == "signed":
            query = query.where(~open_)
        query = query.order_by(slides.c.flagged.desc(), slides.c.first_received_at, slides.c.id).limit(limit)
        with self.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
            received = dict(
                connection.execute(
                    select(fields.c.slide_id, func.count())
                    .where(fields.c.slide_id.in_([row["id"] for row in rows]))
                    .group_by(fields.c.slide_id)
                ).all()
            )  # fmt: skip
        for row in rows:
            row["counts"] = json.loads(row["counts"]) if row["counts"] else None
            row["received"] = received.get(row["id"], 0)
            row["changed"] = bool(row["changed"])
        return rows

    def slide(self, slide_id: int) -> dict | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(slides).where(slides.c.id == slide_id)).mappings().first()
        if row is None or row["purge_started_at"] is not None:
            return None
        slide = dict(row)
        slide["counts"] = json.loads(slide["counts"]) if slide["counts"] else None
        slide["changed"] = bool(
            slide["signed_off_at"] and (slide["last_field_at"] or "") > slide["signed_off_at"]
        )
        return slide

    def fields(self, slide_id: int, *, flagged: bool = False, limit: int = 48, offset: int = 0) -> list[dict]:
        query = (
            select(fields, blobs.c.width, blobs.c.height)
            .outerjoin(blobs, blobs.c.sha256 == fields.c.image_sha256)
            .where(fields.c.slide_id == slide_id)
        )
        if flagged:
            old_rule = and_(
                fields.c.all_like.is_(None), fields.c.status == "classified", fields.c.label != BENIGN_LABEL
            )  # rows stored before h003
            query = query.where(
                or_(fields.c.status.in_(("referred", "uncertain")), fields.c.all_like.is_(True), old_rule)
            )
        query = query.order_by(fields.c.captured_at, fields.c.id).limit(limit).offset(offset)
        with self.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
            found: dict[int, list[dict]] = {}
            if rows:
                cell_query = (
                    select(cells).where(cells.c.field_id.in_([row["id"] for row in rows]))
                    .order_by(cells.c.field_id, cells.c.number)
                )  # fmt: skip
                for cell in connection.execute(cell_query).mappings():
                    found.setdefault(cell["field_id"], []).append(dict(cell))
        for row in rows:
            payload = json.loads(row.pop("payload"))
            row["quality"] = payload["quality"]
            # A cell model's cells (a list, maybe empty); None for a whole-field model's field.
            row["cells"] = found.get(row["id"], []) if payload["cells"] is not None else None
            row["frame_size"] = (row["width"], row["height"]) if row["width"] and row["height"] else None
            row["probabilities"], row["capture_id"] = payload["probabilities"], payload["capture_id"]
            row["labels"] = payload["session"]["labels"]
        return rows

    def count_fields(self, slide_id: int) -> int:
        with self.engine.connect() as connection:
            query = select(func.count()).select_from(fields).where(fields.c.slide_id == slide_id)
            return int(connection.execute(query).scalar_one())

    def field(self, field_id: int) -> dict | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(fields, slides.c.clinic_id, slides.c.sample_id, slides.c.purge_started_at)
                .join(slides, slides.c.id == fields.c.slide_id).where(fields.c.id == field_id)
            ).mappings().first()  # fmt: skip
        return dict(row) if row and row["purge_started_at"] is None else None

    def reviews(self, slide_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            query = select(reviews).where(reviews.c.slide_id == slide_id).order_by(reviews.c.id)
            return [dict(row) for row in connection.execute(query).mappings()]

    # ---- a specialist's word ---------------------------------------------------------------------------
    def add_review(
        self, slide_id: int, person: Person, decision: str, comment: str | None, *, field_id: int | None,
        signoff: bool, client: str, patient: tuple[str, str] | None = None,
    ) -> int:  # fmt: skip
        """A hub review of a field, or (signoff) of the whole slide; audited in the same transaction.

        `patient` (id, name), given by the specialist from the hospital's record at sign-off, is kept
        in the sign-off's record for the DICOM and FHIR exports; it is never sent to a clinic."""
        now = clock.now_iso()
        slide = self.slide(slide_id)
        if slide is None:
            raise LookupError("no such slide")
        if field_id is not None and not any(f["id"] == field_id for f in [self.field(field_id) or {}]):
            raise LookupError("no such field")
        body = {
            "clinic": slide["clinic_id"], "sample_id": slide["sample_id"], "field_id": field_id,
            "reviewer": person.display_name, "decision": decision, "comment": comment, "reviewed_at": now,
            "signoff": signoff, "username": person.username,
        }  # fmt: skip
        if patient is not None:
            body["patient_id"], body["patient_name"] = patient
        with self.engine.begin() as connection:
            review_id = connection.execute(
                insert(reviews).values(
                    record_id=str(uuid.uuid4()), record_sha256=body_sha256(body), slide_id=slide_id,
                    field_id=field_id, origin="hub", signoff=signoff, reviewer=person.display_name,
                    person_id=person.id, decision=decision, comment=comment, reviewed_at=now, received_at=now,
                    payload=json.dumps(body, sort_keys=True),
                )
            ).inserted_primary_key[0]  # fmt: skip
            if signoff:
                connection.execute(update(slides).where(slides.c.id == slide_id).values(signed_off_at=now))
            record(
                connection, person.actor, "sign-off" if signoff else "review field",
                f"slide {slide['clinic_id']}/{slide['sample_id']}", clinic_id=slide["clinic_id"],
                client=client,
                detail={"decision": decision, "field": field_id, "review": review_id,
                        **({"patient_given": True} if patient else {})},
            )  # fmt: skip
        return int(review_id)

    def signoffs_for(self, clinic_id: str, after: int, limit: int = 200) -> list[dict]:
        """The hub's reviews and sign-offs of one clinic's slides, after review id `after`."""
        query = (
            select(reviews.c.id, reviews.c.record_id, reviews.c.signoff, reviews.c.reviewer,
                   reviews.c.decision, reviews.c.comment, reviews.c.reviewed_at, slides.c.sample_id,
                   fields.c.record_id.label("field"))
            .join(slides, slides.c.id == reviews.c.slide_id)
            .outerjoin(fields, fields.c.id == reviews.c.field_id)
            .where(slides.c.clinic_id == clinic_id, reviews.c.origin == "hub", reviews.c.id > after)
            .order_by(reviews.c.id).limit(limit)
        )  # fmt: skip
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    # ---- retention ------------------------------------------------------------------------------------
    def purge(self, older_than: str, by: Actor, blob_store) -> list[str]:
        """Delete slides whose last record arrived before `older_than` (ISO UTC), each audited first.

        The slide is marked (purge_started_at) and audited in one transaction; only then does the
        database let its append-only rows go. A purge cut off half-way is finished by the next one.
        """
        with self.engine.connect() as connection:
            doomed = connection.execute(
                select(slides.c.id, slides.c.clinic_id, slides.c.sample_id, slides.c.purge_started_at)
                .where(or_(slides.c.last_received_at < older_than, slides.c.purge_started_at.is_not(None)))
            ).all()  # fmt: skip
        purged = []
        for slide_id, clinic_id, sample_id, started in doomed:
            if started is None:
                with self.engine.begin() as connection:
                    connection.execute(
                        update(slides).where(slides.c.id == slide_id).values(purge_started_at=clock.now_iso())
                    )
                    record(connection, by, "retention purge", f"slide {clinic_id}/{sample_id}",
                           clinic_id=clinic_id, detail={"older_than": older_than})  # fmt: skip
            with self.engine.begin() as connection:
                pictures = set(
                    connection.execute(
                        select(fields.c.image_sha256).where(fields.c.slide_id == slide_id)
                    ).scalars()
                ) - {None}
                connection.execute(delete(reviews).where(reviews.c.slide_id == slide_id))
                connection.execute(delete(slide_calls).where(slide_calls.c.slide_id == slide_id))
                connection.execute(delete(cells).where(cells.c.slide_id == slide_id))
                connection.execute(delete(fields).where(fields.c.slide_id == slide_id))
                connection.execute(delete(slides).where(slides.c.id == slide_id))
                still_used = set(
                    connection.execute(
                        select(fields.c.image_sha256).where(fields.c.image_sha256.in_(pictures))
                    ).scalars()
                )
                unused = pictures - still_used
                for sha256 in unused:
                    connection.execute(delete(blobs).where(blobs.c.sha256 == sha256))
            for (
                sha256
            ) in unused:  # after the commit: a failed purge never leaves a record without its picture
                blob_store.delete(sha256)
            purged.append(f"{clinic_id}/{sample_id}")
        return purged
