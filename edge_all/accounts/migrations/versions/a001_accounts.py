"""accounts: clinics, people, assignments, devices, enrolment codes, sessions, the append-only audit"""

import sqlalchemy as sa
from alembic import op

from edge_all.accounts import append_only

revision = "a001"
down_revision = None
branch_labels = ("accounts",)
depends_on = None

INSTANT = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clinics"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", INSTANT),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("password_set_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        sa.UniqueConstraint("username", name="uq_people_username"),
        sa.CheckConstraint("role IN ('technician', 'specialist', 'administrator')", name="ck_people_role"),
    )
    op.create_table(
        "person_clinics",
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("clinic_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "clinic_id", name="pk_person_clinics"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name="fk_person_clinics_person_id_people"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_person_clinics_clinic_id_clinics"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("clinic_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", INSTANT, nullable=False),
        sa.Column("revoked_at", INSTANT),
        sa.Column("last_seen_at", INSTANT),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.UniqueConstraint("token_sha256", name="uq_devices_token_sha256"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_devices_clinic_id_clinics"),
    )
    op.create_table(
        "enrol_codes",
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("clinic_id", sa.String(64), nullable=False),
        sa.Column("device_name", sa.String(200), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", INSTANT, nullable=False),
        sa.Column("expires_at", INSTANT, nullable=False),
        sa.Column("used_at", INSTANT),
        sa.Column("device_id", sa.Integer),
        sa.PrimaryKeyConstraint("code_sha256", name="pk_enrol_codes"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_enrol_codes_clinic_id_clinics"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_enrol_codes_device_id_devices"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("started_at", INSTANT, nullable=False),
        sa.Column("last_seen_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_web_sessions"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name="fk_web_sessions_person_id_people"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("clinic_id", sa.String(64)),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    append_only.install(op.execute, op.get_bind().dialect.name, "audit")


def downgrade() -> None:
    append_only.remove(op.execute, op.get_bind().dialect.name, "audit")
    for table in ("audit", "web_sessions", "enrol_codes", "devices", "person_clinics", "people", "clinics"):
        op.drop_table(table)
