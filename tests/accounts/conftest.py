"""Each accounts test runs twice: on an SQLite file and on a real PostgreSQL server (the app role)."""

from __future__ import annotations

import itertools

import pytest

from edge_all.accounts import migrate
from edge_all.accounts.database import open_engine
from edge_all.accounts.roles import grant_app_role
from tests.servers.postgres import remove, start_postgres

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    cluster = start_postgres()
    yield cluster
    remove(cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A migrated accounts database, as the application (not the owner) connects to it."""
    if request.param == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path / 'accounts.db'}")
        migrate.upgrade(engine, target="accounts@head")
        yield engine
    else:
        cluster = request.getfixturevalue("postgres")
        owner_url, app_url = cluster.new_database(f"accounts_{next(_names)}")
        owner = open_engine(owner_url)
        migrate.upgrade(owner, target="accounts@head")
        grant_app_role(owner, "hub_app", append_only=["audit"])
        owner.dispose()
        engine = open_engine(app_url)
        yield engine
    engine.dispose()
