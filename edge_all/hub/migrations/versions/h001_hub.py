"""hub: slides, fields, slide calls, reviews (append-only, deleted only by a slide's purge), blobs"""

import sqlalchemy as sa
from alembic import op

from edge_all.accounts import append_only

revision = "h001"
down_revision = None
branch_labels = ("hub",)
depends_on = "a001"

INSTANT = sa.String(32)
GUARD = "(SELECT purge_started_at FROM slides WHERE slides.id = OLD.slide_id) IS NOT NULL"


def _record_columns() -> list:
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False, unique=True),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("slide_id", sa.Integer, sa.ForeignKey("slides.id"), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "slides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("clinic_id", sa.String(64), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("sample_id", sa.String(200), nullable=False),
        sa.Column("first_received_at", INSTANT, nullable=False),
        sa.Column("last_received_at", INSTANT, nullable=False),
        sa.Column("last_field_at", INSTANT),
        sa.Column("first_captured_at", INSTANT),
        sa.Column("last_captured_at", INSTANT),
        sa.Column("verdict", sa.String(100)),
        sa.Column("call", sa.Text),
        sa.Column("counts", sa.Text),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("model", sa.String(500)),
        sa.Column("bundle_sha256", sa.String(64)),
        sa.Column("site_profile_sha256", sa.String(64)),
        sa.Column("signed_off_at", INSTANT),
        sa.Column("purge_started_at", INSTANT),
        sa.UniqueConstraint("clinic_id", "sample_id", name="uq_slides_clinic_id_sample_id"),
    )
    op.create_index("ix_slides_worklist", "slides", ["flagged", "first_received_at"])
    op.create_table(
        "fields",
        *_record_columns(),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("captured_at", INSTANT, nullable=False),
        sa.Column("frame_index", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("label", sa.String(100)),
        sa.Column("confidence", sa.Float),
        sa.Column("unfamiliarity", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("image_sha256", sa.String(64)),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("bundle_sha256", sa.String(64), nullable=False),
        sa.Column("site_profile_sha256", sa.String(64)),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_fields_slide", "fields", ["slide_id", "captured_at"])
    op.create_table(
        "slide_calls",
        *_record_columns(),
        sa.Column("verdict", sa.String(100), nullable=False),
        sa.Column("call", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "reviews",
        *_record_columns(),
        sa.Column("field_id", sa.Integer, sa.ForeignKey("fields.id")),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("signoff", sa.Boolean, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("person_id", sa.Integer),
        sa.Column("decision", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("reviewed_at", INSTANT, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_reviews_slide", "reviews", ["slide_id"])
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("stored_at", INSTANT, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for table in ("fields", "slide_calls", "reviews"):
        append_only.install(op.execute, dialect, table, guarded_delete=GUARD)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("fields", "slide_calls", "reviews"):
        append_only.remove(op.execute, dialect, table)
    for table in ("blobs", "reviews", "slide_calls", "fields", "slides"):
        op.drop_table(table)
