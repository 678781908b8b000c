"""The accounts tables, as SQLAlchemy Core metadata (the migrations in migrations/ create them).

- `clinics`: the sites; every slide, technician and device belongs to one.
- `people`: personal accounts (argon2 hash, role, lock-out state); never deleted, only disabled,
  so the audit trail always names someone who existed.
- `person_clinics`: a technician's one clinic, a specialist's assigned clinics.
- `devices` and `enrol_codes`: a Pi's credential and the one-time code it was enrolled with, both kept
  as SHA-256 digests only.
- `web_sessions`: server-side sessions by the digest of their cookie's token.
- `audit`: append-only (the database itself refuses UPDATE and DELETE, see `append_only`).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

ROLES = ("technician", "specialist", "administrator")
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
INSTANT = String(32)  # ISO 8601 UTC with milliseconds (edge_all.accounts.clock)

clinics = Table(
    "clinics",
    metadata,
    Column("id", String(64), primary_key=True),  # a short slug: 'kisumu-1'
    Column("name", String(200), nullable=False),
    Column("created_at", INSTANT, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), CheckConstraint(f"role IN {ROLES!r}", name="role"), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", INSTANT),
    Column("created_at", INSTANT, nullable=False),
    Column("password_set_at", INSTANT, nullable=False),
)

person_clinics = Table(
    "person_clinics",
    metadata,
    Column("person_id", Integer, ForeignKey("people.id"), primary_key=True),
    Column("clinic_id", String(64), ForeignKey("clinics.id"), primary_key=True),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("clinic_id", String(64), ForeignKey("clinics.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("issued_by", String(64), nullable=False),
    Column("issued_at", INSTANT, nullable=False),
    Column("revoked_at", INSTANT),
    Column("last_seen_at", INSTANT),
)

enrol_codes = Table(
    "enrol_codes",
    metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("clinic_id", String(64), ForeignKey("clinics.id"), nullable=False),
    Column("device_name", String(200), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("issued_at", INSTANT, nullable=False),
    Column("expires_at", INSTANT, nullable=False),
    Column("used_at", INSTANT),
    Column("device_id", Integer, ForeignKey("devices.id")),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("client", String(100), nullable=False),
    Column("started_at", INSTANT, nullable=False),
    Column("last_seen_at", INSTANT, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", INSTANT, nullable=False),
    Column("actor", String(100), nullable=False),  # 'person:ada', 'device:7', 'system'
    Column("role", String(16), nullable=False),  # the actor's role then ('device', 'system' for those)
    Column("action", String(64), nullable=False),  # 'login', 'view slide', 'sign-off', ...
    Column("subject", String(300), nullable=False, default=""),  # 'slide kisumu-1/PBS-0001'
    Column("clinic_id", String(64)),
    Column("client", String(100), nullable=False, default=""),  # the address it came from
    Column("detail", Text, nullable=False, default="{}"),  # JSON
    Index("ix_audit_at", "at"),
)
