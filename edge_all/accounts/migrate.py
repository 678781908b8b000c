"""Bringing a database's tables up to date with Alembic, run from code (no alembic.ini to find).

The accounts tables are the `accounts` branch; the hub adds its own branch (its versions folder),
so the station migrates `accounts@head` and the hub everything (`heads`) through the same
environment. A database that is already current is left untouched, so every start may call this.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge_all.errors import EdgeAllError

HERE = Path(__file__).parent / "migrations"


class MigrationError(EdgeAllError):
    """The database could not be brought up to date (or is newer than this program)."""


def _config(extra_versions: Sequence[Path]) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    locations = [HERE / "versions", *extra_versions]
    config.set_main_option("version_locations", " ".join(str(path) for path in locations))
    config.set_main_option("path_separator", "space")
    return config


def upgrade(engine: Engine, extra_versions: Sequence[Path] = (), target: str = "heads") -> None:
    config = _config(extra_versions)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string()  # the password stays hidden
        cause = getattr(exc, "orig", None) or exc
        raise MigrationError(f"{where}: cannot migrate the database ({cause})") from None


def pending(engine: Engine, extra_versions: Sequence[Path] = ()) -> list[str]:
    """The head revisions the database has not reached yet (empty: up to date)."""
    script = ScriptDirectory.from_config(_config(extra_versions))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = current - known
    if unknown:
        raise MigrationError(
            f"the database is at revision {sorted(unknown)}, newer than this edge-all: upgrade edge-all"
        )
    # What the current heads stand on, dependencies (the hub branch needs the accounts one) included.
    applied = set(current)
    for revision in script.revision_map._get_ancestor_nodes(
        script.revision_map.get_revisions(tuple(current)), include_dependencies=True
    ):
        applied.add(revision.revision)
    return sorted(set(script.get_heads()) - applied)
