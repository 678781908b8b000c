"""hub: the installation id (for DICOM UIDs), export requests, and the outbox toward the PACS and FHIR"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "h002"
down_revision = "h001"
branch_labels = None
depends_on = None

INSTANT = sa.String(32)


def upgrade() -> None:
    installation = op.create_table(
        "hub_installation",
        sa.Column("id", sa.Integer, primary_key=True),  # always 1: one row
        sa.Column("installation_id", sa.String(36), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
    )
    # Made once, here, and kept with the database (and its backups): every DICOM UID and FHIR
    # identifier system of this hub derives from it, so it must never change.
    from datetime import datetime, timezone

    op.bulk_insert(
        installation,
        [{"id": 1, "installation_id": str(uuid.uuid4()),
          "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}],
    )  # fmt: skip
    op.create_table(
        "standards_exports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slide_id", sa.Integer, sa.ForeignKey("slides.id"), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),  # 'sign-off' or 'on request'
        sa.Column("requested_by", sa.String(200), nullable=False),  # the audit actor's name
        sa.Column("requested_at", INSTANT, nullable=False),
        sa.Column("built_at", INSTANT),  # None: still to be built by the worker
        sa.Column("error", sa.Text),  # why it could not be built (shown on the slide page)
    )
    op.create_index("ix_standards_exports_todo", "standards_exports", ["built_at", "id"])
    op.create_index("ix_standards_exports_slide", "standards_exports", ["slide_id"])
    # edge_all.standards.delivery_sql's table, as its metadata declares it.
    op.create_table(
        "standards_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slide_id", sa.String(128), nullable=False, index=True),
        sa.Column("destination", sa.String(8), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("description", sa.String(128), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("destination", "key", name="uq_standards_deliveries_destination_key"),
    )
    op.create_index(
        "ix_standards_deliveries_due", "standards_deliveries", ["destination", "state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("standards_deliveries")
    op.drop_table("standards_exports")
    op.drop_table("hub_installation")
