"""Opening a database by URL: SQLite (a file, the default everywhere) or PostgreSQL (psycopg 3).

Why these settings:
- SQLite: WAL (readers never block the writer), synchronous=FULL (a Pi loses power), foreign keys on,
  and a busy timeout so two processes (the station and `edge-all sync`) wait for each other instead of
  failing at once.
- PostgreSQL: `pool_pre_ping`, so a server restarted under a running hub costs one failed check per
  pooled connection, not a failed request.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from edge_all.errors import UsageError


class DatabaseUrlError(UsageError):
    """A --database URL that names no database this program can open."""


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def driver_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy's default is psycopg2, not installed)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"{url!r} is not a database URL (sqlite:///PATH or postgresql://...)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(f"{parsed.get_backend_name()}: only SQLite and PostgreSQL are supported")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(connection: sqlite3.Connection, _record: Any) -> None:
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=30000")


def open_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An Engine for `url`; SQLite files get their folder made and the pragmas above."""
    url = driver_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # NullPool: a connection per use. SQLite connections are cheap, and no pooled connection then
        # outlives a file replaced under it.
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size * 2)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
