"""The thin adapter from the hub's records to the standards room's `SlideExport` (docs/standards.md).

Everything comes from what the clinic sent (its fields' bodies as stored, its latest screening call)
and what the hub's people decided (the latest sign-off, and the earlier ones it amends). The
patient's id and name come only from the hospital: what the specialist typed at sign-off (kept in
that sign-off's record, at the hub only: never sent down to a clinic); never made up here. What the
clinic does not send is not claimed: Pixel Spacing only where the field's scale was recorded (sync
protocol 2), no stage position; a cell's triage status is its own where the clinic sent one
(protocol 2), else its field's.
"""

from __future__ import annotations

import io
import json
import math
import posixpath
from datetime import datetime

import numpy as np
from PIL import Image, UnidentifiedImageError

from edge_all.hub.blobs import BlobStore
from edge_all.hub.storage import HubStore
from edge_all.standards.errors import ExportError
from edge_all.standards.records import (
    Box,
    Cell,
    Decision,
    FieldExport,
    ModelUsed,
    Patient,
    ScreeningCall,
    SignOff,
    SlideExport,
    Verdict,
)

NO_CALL = "no screening call has arrived from the clinic yet"


def slide_record_id(slide_id: int) -> str:
    """The slide's id in the standards' records: the seed of its UIDs and its FHIR identifier."""
    return f"slide-{slide_id}"


def _instant(value: str, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ExportError(f"{what} is not an ISO time: {value!r}") from None
    if when.tzinfo is None:
        raise ExportError(f"{what} has no time zone: {value!r}")
    return when


def _picture(data: bytes, what: str) -> np.ndarray | bytes:
    """A baseline RGB JPEG as it was captured (no second lossy step); anything else as RGB pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            progressive = bool(image.info.get("progressive") or image.info.get("progression"))
            if image.format == "JPEG" and image.mode == "RGB" and not progressive:
                return data
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as error:
        raise ExportError(f"{what}: the picture cannot be read ({error})") from None


def _cells(raw: list[dict] | None, status: str, size: tuple[int, int], what: str) -> tuple[Cell, ...]:
    """The hub's cells (boxes x0, y0, x1, y1 in the picture's pixels) as whole-pixel boxes on it."""
    width, height = size
    cells = []
    for cell in raw or []:
        x0, y0 = max(0, math.floor(cell["x0"])), max(0, math.floor(cell["y0"]))
        x1 = min(width, max(x0 + 1, math.ceil(cell["x1"])))
        y1 = min(height, max(y0 + 1, math.ceil(cell["y1"])))
        if cell.get("confidence") is None:
            raise ExportError(f"{what}: cell {cell['number']} has no confidence (the SR needs one)")
        cells.append(
            Cell(Box(x0, y0, x1, y1), str(cell["label"]), float(cell["confidence"]), cell["status"] or status)
        )
    return tuple(cells)


def _model(slide: dict) -> ModelUsed:
    name = posixpath.basename(str(slide["model"] or "").rstrip("/")) or "unnamed model"
    digest = slide["bundle_sha256"]
    # The clinic names its bundle by path and sha256; the first 16 hex digits stand for its version.
    return ModelUsed(name[:64], digest[:16], digest, slide["site_profile_sha256"])


def _call(slide: dict, fields_received: int) -> ScreeningCall:
    counts = slide["counts"]
    if slide["verdict"] is None or counts is None:
        return ScreeningCall(Verdict.INCONCLUSIVE, NO_CALL, fields_received, 0, 0, 0, 0)
    try:
        verdict = Verdict(slide["verdict"])
    except ValueError:
        raise ExportError(f"the clinic's call {slide['verdict']!r} is not one the standards know") from None
    return ScreeningCall(
        verdict, slide["call"] or slide["verdict"], counts["fields"], counts["good"], counts["all_like"],
        counts["referred"], counts["rejected"],
    )  # fmt: skip


def hub_signoffs(reviews: list[dict]) -> list[dict]:
    """The slide's sign-offs at the hub, oldest first (reviews come in id order)."""
    return [r for r in reviews if r["signoff"] and r["origin"] == "hub"]


def _signoff(review: dict | None) -> tuple[SignOff | None, Patient | None]:
    if review is None:
        return None, None
    body = json.loads(review["payload"])
    sign_off = SignOff(
        record_id=review["record_id"], decision=Decision(review["decision"]), by_name=review["reviewer"],
        by_id=body.get("username") or f"person-{review['person_id']}",
        at=_instant(review["reviewed_at"], "the sign-off time"), comment=review["comment"] or "",
    )  # fmt: skip
    patient_id = (body.get("patient_id") or "").strip()
    patient = Patient(patient_id, (body.get("patient_name") or "").strip()) if patient_id else None
    return sign_off, patient


def slide_export(store: HubStore, blobs: BlobStore, slide_id: int, clinic_name: str) -> SlideExport:
    """The slide as the standards room takes it; ExportError (one line) when it cannot be carried."""
    slide = store.slide(slide_id)
    if slide is None:
        raise ExportError(f"slide {slide_id} does not exist (purged?)")
    what = f"slide {slide['clinic_id']}/{slide['sample_id']}"
    rows = store.fields(slide_id, limit=max(1, store.count_fields(slide_id)))
    exported = []
    for row in rows:
        if not row["image_sha256"]:
            continue  # the clinic kept no picture: nothing to put in the PACS (still counted in the call)
        data = blobs.get(row["image_sha256"])
        if data is None:
            raise ExportError(f"{what}: the picture {row['image_sha256'][:12]} is missing from the store")
        number = len(exported) + 1
        picture = _picture(data, f"{what} field {number}")
        size = (
            (int(picture.shape[1]), int(picture.shape[0]))
            if isinstance(picture, np.ndarray)
            else Image.open(io.BytesIO(picture)).size
        )
        exported.append(
            FieldExport(
                record_id=row["record_id"], number=number,
                captured_at=_instant(row["captured_at"], f"{what} field {number}'s capture time"),
                picture=picture, cells=_cells(row["cells"], row["status"], size, f"{what} field {number}"),
                um_per_pixel=row["um_per_px"],
            )
        )  # fmt: skip
    if not exported:
        raise ExportError(f"{what}: no field has a picture kept, so there is nothing for the PACS")
    signoffs = hub_signoffs(store.reviews(slide_id))
    sign_off, patient = _signoff(signoffs[-1] if signoffs else None)
    for earlier in reversed(signoffs[:-1]):
        if patient is not None:
            break
        # A later sign-off that typed no patient keeps the one typed before: the PACS files the
        # slide under one patient (the images are not re-sent), and none is ever made up.
        patient = _signoff(earlier)[1]
    return SlideExport(
        record_id=slide_record_id(slide_id), sample_id=slide["sample_id"], clinic=clinic_name[:64],
        fields=tuple(exported), model=_model(slide), call=_call(slide, len(rows)), sign_off=sign_off,
        patient=patient, clinic_id=slide["clinic_id"],
        earlier_sign_offs=tuple(r["record_id"] for r in signoffs[:-1]),
    )  # fmt: skip
