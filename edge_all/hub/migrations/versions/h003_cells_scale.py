"""hub: sync protocol 2 — each field's cells (append-only), number, scale and ALL-like flag; picture sizes

Add-only: a new table and nullable columns, so every row of h002 stays as it was and reads NULL
(a field sent by a protocol 1 clinic: no number, no scale, flagged by the old Benign rule).
"""

import sqlalchemy as sa
from alembic import op

from edge_all.accounts import append_only

revision = "h003"
down_revision = "h002"
branch_labels = None
depends_on = None

GUARD = "(SELECT purge_started_at FROM slides WHERE slides.id = OLD.slide_id) IS NOT NULL"
FIELD_COLUMNS = ("field_number", "um_per_px", "scale_source", "all_like")


def upgrade() -> None:
    op.add_column("fields", sa.Column("field_number", sa.Integer))  # the station's number in the sample
    op.add_column("fields", sa.Column("um_per_px", sa.Float))  # the scale it was read at; NULL: unknown
    op.add_column("fields", sa.Column("scale_source", sa.String(16)))  # given, site, estimated, ...
    op.add_column("fields", sa.Column("all_like", sa.Boolean))  # by the session's roles; NULL: protocol 1
    op.add_column("blobs", sa.Column("width", sa.Integer))  # the picture's size (the cells' frame)
    op.add_column("blobs", sa.Column("height", sa.Integer))
    op.create_table(
        "cells",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("field_id", sa.Integer, sa.ForeignKey("fields.id"), nullable=False),
        sa.Column("slide_id", sa.Integer, sa.ForeignKey("slides.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),  # 1, 2, ... in the field, as sent
        sa.Column("x0", sa.Float, nullable=False),  # the box in the stored picture's pixels
        sa.Column("y0", sa.Float, nullable=False),
        sa.Column("x1", sa.Float, nullable=False),
        sa.Column("y1", sa.Float, nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("status", sa.String(16)),  # all-like, referred, cleared, dropped; NULL: protocol 1
        sa.Column("reason", sa.Text),
        sa.Column("unfamiliarity", sa.Float),
    )
    op.create_index("ix_cells_field", "cells", ["field_id", "number"])
    append_only.install(op.execute, op.get_bind().dialect.name, "cells", guarded_delete=GUARD)


def downgrade() -> None:
    append_only.remove(op.execute, op.get_bind().dialect.name, "cells")
    op.drop_table("cells")
    for column in ("width", "height"):
        op.drop_column("blobs", column)
    for column in FIELD_COLUMNS:
        op.drop_column("fields", column)
