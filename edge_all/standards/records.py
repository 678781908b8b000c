"""What the hub hands over for one slide: typed, frozen, checked once here so that the DICOM and FHIR
builders can trust every value. The hub maps its own rows onto these; nothing here reads a database.

The sample id is the only identifier the product knows (it becomes the accession number and the
specimen identifier). A patient id and name come from the hospital (a worklist or the specialist),
never from here: absent, the DICOM Patient module carries them empty, as type 2 attributes may be.
"""

from __future__ import annotations

import enum
import io
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image, UnidentifiedImageError

from edge_all.standards.errors import ExportError

ALL_LIKE = frozenset({"Early", "Pre", "Pro"})  # the classes that are a reason to refer (DESIGN.md)
DROPPED = "dropped"  # a cell's triage status when it is not a white cell (edge_all.triage.cells)


class Verdict(enum.Enum):
    """The slide's screening call, as the runtime makes it."""

    REFER = "refer"
    NO_ALL_LIKE = "no ALL-like cells"
    INCONCLUSIVE = "inconclusive"


class Decision(enum.Enum):
    """The specialist's sign-off: the same three words as the call, decided by a person."""

    REFER = "refer"
    NO_ALL_LIKE = "no ALL-like cells"
    INCONCLUSIVE = "inconclusive"


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ExportError(message)


def _aware(when: datetime, what: str) -> None:
    _need(when.tzinfo is not None and when.utcoffset() is not None, f"{what} has no time zone: {when}")


def _text(value: str, what: str, *, limit: int = 64) -> None:
    _need(bool(value.strip()), f"{what} is empty")
    _need(len(value) <= limit, f"{what} is longer than {limit} characters: {value[:20]}...")
    _need(value.isprintable() and "\\" not in value, f"{what} has a control character or backslash")


@dataclass(frozen=True)
class Box:
    """A cell's box in its field's pixels: x0, y0 inclusive top-left; x1, y1 exclusive bottom-right."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        _need(0 <= self.x0 < self.x1 and 0 <= self.y0 < self.y1, f"cell box is empty or negative: {self}")


@dataclass(frozen=True)
class Cell:
    """One white cell the model read: where, what, how sure, and what triage made of it."""

    box: Box
    label: str
    confidence: float
    status: str  # the triage word for the cell: "classified", "referred", ...

    def __post_init__(self) -> None:
        _text(self.label, "cell class")
        _text(self.status, "cell status", limit=16)
        _need(
            math.isfinite(self.confidence) and 0.0 <= self.confidence <= 1.0,
            f"cell confidence is not in [0, 1]: {self.confidence}",
        )


@dataclass(frozen=True)
class StagePosition:
    """Where the field's centre was on the slide, in mm, when the stage reports it."""

    x_mm: float
    y_mm: float
    z_mm: float | None = None


@dataclass(frozen=True)
class FieldExport:
    """One field of view: its picture (RGB uint8 pixels, or the JPEG the clinic captured), its cells."""

    record_id: str  # the hub's id of the field (UIDs are derived from it: re-sending is idempotent)
    number: int  # 1, 2, ... in capture order
    captured_at: datetime
    picture: np.ndarray | bytes
    cells: tuple[Cell, ...] = ()
    um_per_pixel: float | None = None  # None: the scale is unknown, and no pixel spacing is claimed
    stage: StagePosition | None = None

    def __post_init__(self) -> None:
        _text(self.record_id, "field record id")
        _need(self.number >= 1, f"field number must be 1 or more: {self.number}")
        _aware(self.captured_at, f"field {self.number} capture time")
        if isinstance(self.picture, np.ndarray):
            _need(
                self.picture.dtype == np.uint8 and self.picture.ndim == 3 and self.picture.shape[2] == 3,
                f"field {self.number} picture is not RGB uint8 (shape {self.picture.shape})",
            )
        else:
            _need(
                self.picture[:2] == b"\xff\xd8", f"field {self.number} picture is neither pixels nor a JPEG"
            )
        width, height = self.size
        for cell in self.cells:
            _need(
                cell.box.x1 <= width and cell.box.y1 <= height,
                f"field {self.number}: a cell box {cell.box} reaches outside the {width}x{height} picture",
            )
        if self.um_per_pixel is not None:
            _need(
                math.isfinite(self.um_per_pixel) and self.um_per_pixel > 0,
                f"field {self.number} µm per pixel must be positive: {self.um_per_pixel}",
            )

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels; a JPEG's from its header, without decoding it."""
        if isinstance(self.picture, np.ndarray):
            return int(self.picture.shape[1]), int(self.picture.shape[0])
        try:
            with Image.open(io.BytesIO(self.picture)) as image:
                _need(image.format == "JPEG" and image.mode == "RGB", f"field {self.number} JPEG is not RGB")
                return image.size
        except (UnidentifiedImageError, OSError) as error:
            raise ExportError(f"field {self.number} JPEG cannot be read: {error}") from None


@dataclass(frozen=True)
class ModelUsed:
    """The bundle that read the slide, and the site profile it read it with (issue 23)."""

    name: str
    version: str
    bundle_sha256: str
    site_profile_sha256: str | None = None  # None: the station was not commissioned

    def __post_init__(self) -> None:
        _text(self.name, "model name")
        _text(self.version, "model version", limit=16)
        for what, digest in (("bundle", self.bundle_sha256), ("site profile", self.site_profile_sha256)):
            if digest is not None:
                _need(
                    len(digest) == 64 and all(c in "0123456789abcdef" for c in digest),
                    f"{what} sha256 is not 64 lower-case hex digits: {digest[:16]}...",
                )


@dataclass(frozen=True)
class ScreeningCall:
    """The slide's call as the runtime made it: verdict, its reason in words, and what was counted."""

    verdict: Verdict
    reason: str
    fields_total: int
    fields_good: int
    fields_all_like: int
    fields_referred: int
    fields_rejected: int

    def __post_init__(self) -> None:
        _text(self.reason, "screening reason", limit=1024)
        counts = (self.fields_total, self.fields_good, self.fields_all_like)
        _need(min(counts + (self.fields_referred, self.fields_rejected)) >= 0, "a field count is negative")
        _need(self.fields_all_like <= self.fields_total, "more ALL-like fields than fields")


@dataclass(frozen=True)
class SignOff:
    """The specialist's review, stored beside the model's call, never over it."""

    record_id: str  # the hub's id of the sign-off (a new sign-off makes a new SR and report)
    decision: Decision
    by_name: str  # as the hub shows the person: "Dr Ada Lovelace"
    by_id: str  # the hub's account id of the person
    at: datetime
    comment: str = ""

    def __post_init__(self) -> None:
        _text(self.record_id, "sign-off record id")
        _text(self.by_name, "specialist's name")
        _text(self.by_id, "specialist's account id")
        _aware(self.at, "sign-off time")
        _need(len(self.comment) <= 1024, "sign-off comment is longer than 1024 characters")


@dataclass(frozen=True)
class Patient:
    """Given by the hospital (worklist or the specialist), never invented here."""

    id: str
    name: str = ""  # as the hospital writes it; DICOM's Family^Given is the hub's to supply

    def __post_init__(self) -> None:
        _text(self.id, "patient id")
        if self.name:
            _text(self.name, "patient name")


@dataclass(frozen=True)
class SlideExport:
    """One slide, as the hub knows it: the unit that becomes one DICOM series and one FHIR report."""

    record_id: str  # the hub's id of the slide
    sample_id: str  # the accession number and the specimen identifier
    clinic: str  # the institution
    fields: tuple[FieldExport, ...]
    model: ModelUsed
    call: ScreeningCall
    sign_off: SignOff | None = None  # None: exported on request before sign-off
    patient: Patient | None = None
    clinic_id: str = ""  # the hub's id of the clinic (the specimen identifier's issuer)
    # The record ids of the slide's sign-offs before `sign_off`, oldest first: a second sign-off
    # amends the report (FHIR status amended; a new SR that names the one it replaces).
    earlier_sign_offs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _text(self.record_id, "slide record id")
        _text(self.sample_id, "sample id", limit=16)  # Accession Number is SH: 16 characters
        _text(self.clinic, "clinic")
        _need(len(self.fields) >= 1, f"slide {self.sample_id} has no fields")
        numbers = [f.number for f in self.fields]
        _need(len(set(numbers)) == len(numbers), f"slide {self.sample_id} has two fields with one number")
        ids = [f.record_id for f in self.fields]
        _need(len(set(ids)) == len(ids), f"slide {self.sample_id} has two fields with one record id")
        _need(
            self.sign_off is not None or not self.earlier_sign_offs,
            f"slide {self.sample_id} has earlier sign-offs but none to amend them with",
        )
        for earlier in self.earlier_sign_offs:
            _text(earlier, "earlier sign-off record id")

    @property
    def amended(self) -> bool:
        """Whether this sign-off follows another (the report and SR say so)."""
        return self.sign_off is not None and bool(self.earlier_sign_offs)

    @property
    def started_at(self) -> datetime:
        return min(f.captured_at for f in self.fields)

    def cell_counts(self) -> dict[str, int]:
        """White cells per class over the whole slide, in label order (what the FHIR report counts);
        what triage dropped as not a white cell (platelets, debris) is not counted."""
        counts: dict[str, int] = {}
        for f in self.fields:
            for cell in f.cells:
                if cell.status != DROPPED:
                    counts[cell.label] = counts.get(cell.label, 0) + 1
        return dict(sorted(counts.items()))
