"""Tables that the database itself keeps append-only, whoever connects.

SQLite: BEFORE UPDATE / BEFORE DELETE triggers that RAISE(ABORT). PostgreSQL: one trigger function
refusing UPDATE, DELETE and TRUNCATE, and (see roles.py) an application role that holds only
INSERT and SELECT on these tables. Together: a bug, an SQL injection or a hurried administrator
using the application's credentials cannot rewrite who did what.

`guarded_delete` is for tables whose rows may go only when a condition holds (a slide's retention
purge), stated as SQL over OLD; the condition is checked by the database, not by the caller.
"""

from __future__ import annotations

from collections.abc import Callable

Execute = Callable[[str], object]

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION edge_all_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'edge-all: % on % refused: this table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def install(execute: Execute, dialect: str, table: str, guarded_delete: str | None = None) -> None:
    """Make `table` append-only; with `guarded_delete`, a DELETE passes only where it is true."""
    if dialect == "sqlite":
        execute(
            f"CREATE TRIGGER {table}_never_updated BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'edge-all: {table} is append-only'); END"
        )
        when = f" WHEN NOT ({guarded_delete})" if guarded_delete else ""
        execute(
            f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table}{when} "
            f"BEGIN SELECT RAISE(ABORT, 'edge-all: {table} is append-only'); END"
        )
        return
    if dialect != "postgresql":
        raise ValueError(f"append-only tables on {dialect} are not supported")
    execute(_PG_FUNCTION)
    execute(
        f"CREATE TRIGGER {table}_never_updated BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION edge_all_append_only()"
    )
    execute(
        f"CREATE TRIGGER {table}_never_truncated BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION edge_all_append_only()"
    )
    when = f" WHEN (NOT ({guarded_delete}))" if guarded_delete else ""
    if guarded_delete and "SELECT" in guarded_delete.upper():
        # PostgreSQL's WHEN may not hold a subquery: the condition moves into a function of its own.
        execute(
            f"CREATE OR REPLACE FUNCTION edge_all_{table}_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF NOT ({guarded_delete}) THEN RAISE EXCEPTION "
            f"'edge-all: DELETE on {table} refused: this table is append-only' "
            "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN OLD; END $$"
        )
        execute(
            f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION edge_all_{table}_guard()"
        )
        return
    execute(
        f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
        f"FOR EACH ROW{when} EXECUTE FUNCTION edge_all_append_only()"
    )


def remove(execute: Execute, dialect: str, table: str) -> None:
    """Undo `install` (for a migration's downgrade)."""
    if dialect == "sqlite":
        execute(f"DROP TRIGGER IF EXISTS {table}_never_updated")
        execute(f"DROP TRIGGER IF EXISTS {table}_never_deleted")
        return
    for trigger in ("never_updated", "never_deleted", "never_truncated"):
        execute(f"DROP TRIGGER IF EXISTS {table}_{trigger} ON {table}")
