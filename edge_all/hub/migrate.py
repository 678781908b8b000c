"""Where the hub's Alembic versions live (the accounts branch's environment runs them)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from edge_all.accounts import migrate
from edge_all.accounts.roles import grant_app_role
from edge_all.hub.schema import APPEND_ONLY

VERSIONS = Path(__file__).parent / "migrations" / "versions"


def upgrade(engine: Engine) -> None:
    """Accounts and hub tables, both branches to their heads."""
    migrate.upgrade(engine, extra_versions=[VERSIONS], target="heads")


def pending(engine: Engine) -> list[str]:
    return migrate.pending(engine, extra_versions=[VERSIONS])


def grant(engine: Engine, role: str) -> None:
    """PostgreSQL: what the application's role may do (docs/hub.md, "Two roles"): records, reviews and
    the audit only SELECT and INSERT; retention (`edge-all hub purge`) runs as the owner."""
    grant_app_role(engine, role, append_only=["audit", *APPEND_ONLY])
