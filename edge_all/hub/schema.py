"""The hub's tables (created by migrations/versions/h001_hub.py; this is the code's view of them).

- `slides`: one per (clinic, sample id), with the clinic's latest screening call and its counts.
- `fields`, `slide_calls`, `reviews`: what the clinics sent (and the hub's own reviews and sign-offs),
  each row named by its client-made `record_id` with the sha256 of what was sent, and the body as
  sent (`payload`) so later exports (DICOM, FHIR) read exactly what the clinic recorded. All three are
  append-only in the database; a row may be deleted only once its slide is marked for purging
  (retention), which is itself audited.
- `blobs`: the pictures the store holds, by sha256 (the bytes are in the blob store), with their size.
- `cells` (h003): each field's white cells as sent (sync protocol 2), append-only like its field.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from edge_all.accounts.schema import NAMING, clinics

INSTANT = String(32)
metadata = MetaData(naming_convention=NAMING)
APPEND_ONLY = ("fields", "slide_calls", "reviews", "cells")
PURGE_GUARD = "(SELECT purge_started_at FROM slides WHERE slides.id = OLD.slide_id) IS NOT NULL"

slides = Table(
    "slides",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("clinic_id", String(64), ForeignKey(clinics.c.id), nullable=False),
    Column("sample_id", String(200), nullable=False),
    Column("first_received_at", INSTANT, nullable=False),
    Column("last_received_at", INSTANT, nullable=False),  # the latest field, call or clinic review
    Column("last_field_at", INSTANT),  # when the latest field arrived (after a sign-off: changed)
    Column("first_captured_at", INSTANT),
    Column("last_captured_at", INSTANT),
    Column("verdict", String(100)),  # the clinic's latest call (None until one arrives)
    Column("call", Text),
    Column("counts", Text),  # JSON, the call's counts
    Column("flagged", Boolean, nullable=False, default=False),  # refer, or ALL-like/referred fields
    Column("model", String(500)),
    Column("bundle_sha256", String(64)),
    Column("site_profile_sha256", String(64)),
    Column("signed_off_at", INSTANT),  # the latest sign-off
    Column("purge_started_at", INSTANT),  # retention: set (and audited) before rows go
    UniqueConstraint("clinic_id", "sample_id"),
    Index("ix_slides_worklist", "flagged", "first_received_at"),
)

fields = Table(
    "fields",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_id", String(36), nullable=False, unique=True),
    Column("record_sha256", String(64), nullable=False),
    Column("slide_id", Integer, ForeignKey(slides.c.id), nullable=False),
    Column("device_id", Integer, nullable=False),
    Column("received_at", INSTANT, nullable=False),
    Column("captured_at", INSTANT, nullable=False),
    Column("frame_index", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("label", String(100)),
    Column("confidence", Float),
    Column("unfamiliarity", Float),
    Column("reason", Text),
    Column("image_sha256", String(64)),
    Column("model", String(500), nullable=False),
    Column("bundle_sha256", String(64), nullable=False),
    Column("site_profile_sha256", String(64)),
    Column("payload", Text, nullable=False),  # the body as sent (JSON)
    # h003 (sync protocol 2; NULL for what a protocol 1 clinic sent):
    Column("field_number", Integer),  # the station's number of the field in its sample
    Column("um_per_px", Float),  # the scale it was read at, in the stored picture's pixels
    Column("scale_source", String(16)),  # given, site, estimated, bundle-free
    Column("all_like", Boolean),  # classified ALL-like by its session's label roles
    Index("ix_fields_slide", "slide_id", "captured_at"),
)

# h003: each field's white cells as the clinic sent them (append-only like the field).
cells = Table(
    "cells",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("field_id", Integer, ForeignKey(fields.c.id), nullable=False),
    Column("slide_id", Integer, ForeignKey(slides.c.id), nullable=False),
    Column("number", Integer, nullable=False),
    Column("x0", Float, nullable=False),
    Column("y0", Float, nullable=False),
    Column("x1", Float, nullable=False),
    Column("y1", Float, nullable=False),
    Column("label", String(100), nullable=False),
    Column("confidence", Float),
    Column("status", String(16)),
    Column("reason", Text),
    Column("unfamiliarity", Float),
    Index("ix_cells_field", "field_id", "number"),
)

slide_calls = Table(
    "slide_calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_id", String(36), nullable=False, unique=True),
    Column("record_sha256", String(64), nullable=False),
    Column("slide_id", Integer, ForeignKey(slides.c.id), nullable=False),
    Column("received_at", INSTANT, nullable=False),
    Column("verdict", String(100), nullable=False),
    Column("call", Text, nullable=False),
    Column("payload", Text, nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("record_id", String(36), nullable=False, unique=True),
    Column("record_sha256", String(64), nullable=False),
    Column("slide_id", Integer, ForeignKey(slides.c.id), nullable=False),
    Column("field_id", Integer, ForeignKey(fields.c.id)),  # None: of the whole slide
    Column("origin", String(8), nullable=False),  # 'clinic' (sent up) or 'hub'
    Column("signoff", Boolean, nullable=False, default=False),  # a specialist's sign-off of the slide
    Column("reviewer", String(200), nullable=False),  # the name as shown
    Column("person_id", Integer),  # a hub account; None for a clinic's review
    Column("decision", String(200), nullable=False),
    Column("comment", Text),
    Column("reviewed_at", INSTANT, nullable=False),
    Column("received_at", INSTANT, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_reviews_slide", "slide_id"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("stored_at", INSTANT, nullable=False),
    Column("width", Integer),  # h003: the picture's size in pixels (NULL: stored before, or unreadable)
    Column("height", Integer),
)

# The hub's installation id (one row, made by migration h002): the namespace of its DICOM UIDs.
hub_installation = Table(
    "hub_installation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("installation_id", String(36), nullable=False),
    Column("created_at", INSTANT, nullable=False),
)

# A slide to be built as DICOM and FHIR and queued (on sign-off, or on a person's request): the
# worker builds it (seconds for a big slide: never in a page request) and records when, or why not.
standards_exports = Table(
    "standards_exports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slide_id", Integer, ForeignKey(slides.c.id), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", INSTANT, nullable=False),
    Column("built_at", INSTANT),
    Column("error", Text),
    Index("ix_standards_exports_todo", "built_at", "id"),
    Index("ix_standards_exports_slide", "slide_id"),
)
