"""PostgreSQL's two roles: the owner migrates, the application's role serves.

The owner (who ran `edge-all hub migrate`) owns every table. The application's role, the one in the
URL the hub serves with, gets what serving needs and no more: on an append-only table only SELECT
and INSERT, so even SQL run with the hub's own credentials cannot change or delete history; the
triggers (append_only.py) refuse it for the owner too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Engine, text

from edge_all.errors import UsageError

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_app_role(engine: Engine, role: str, append_only: Sequence[str]) -> None:
    """Give `role` SELECT, INSERT, UPDATE, DELETE on every table; only SELECT, INSERT on `append_only`."""
    if engine.dialect.name != "postgresql":
        raise UsageError("roles exist only on PostgreSQL (SQLite files are guarded by their triggers alone)")
    if not ROLE_NAME.match(role):
        raise UsageError(f"{role!r}: not a plain PostgreSQL role name")
    with engine.begin() as connection:
        connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        connection.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        )
        connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
        connection.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {role}"))
        for table in append_only:
            connection.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}"))
