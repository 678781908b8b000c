"""Schema version 8 (issue 23): the site profile a session read with (its sha256) and each field's drift
warning are stored; a version 7 database is upgraded in place, every row kept, its sessions read NULL
(not commissioned); the CSV export and `results show` name the profile (or say there was none)."""

from __future__ import annotations

import csv
import dataclasses
import sqlite3

from edge_all.results import schema
from edge_all.results.export import export_csv
from edge_all.results.store import ResultsStore
from tests.cli_runner import run_edge_all
from tests.results.test_scale_columns import INFO, record

SITE = "5e" * 32


def _version_7_database(path) -> None:
    """A database as version 7 left it: one session and one field, then the version put back to 7."""
    with ResultsStore.open(path) as store:
        session = store.start_session(INFO)
        store.add(record(session, 0))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(
        "BEGIN; ALTER TABLE sessions DROP COLUMN site_sha256; ALTER TABLE captures DROP COLUMN drift;"
        " UPDATE schema_version SET version = 7; COMMIT;"
    )
    connection.close()


def test_a_version_7_database_gains_the_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v7.db"
    _version_7_database(path)
    with ResultsStore.open(path) as store:
        assert store.connection.execute("SELECT version FROM schema_version").fetchone()[0] == 8
        assert schema.SCHEMA_VERSION == 8
        (old,) = store.sessions()
        assert old["site_sha256"] is None and old["sample_id"] == "S1"
        (row,) = store.captures()
        assert row["label"] == "Benign" and row["confidence"] == 0.9 and row["drift"] is None


def test_the_site_is_stored_with_its_session_and_exported(tmp_path):
    path = tmp_path / "r.db"
    with ResultsStore.open(path) as store:
        plain = store.start_session(INFO)
        store.add(record(plain, 0))
        sited = store.start_session(dataclasses.replace(INFO, site_sha256=SITE))
        store.add(record(sited, 1))
        assert [s["site_sha256"] for s in store.sessions()] == [None, SITE]
        assert export_csv(store, tmp_path / "out.csv") == 2
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["site_sha256"] for r in rows] == ["", SITE]
    shown = run_edge_all("results", "show", "S1", "--db", path)
    assert shown.returncode == 0, shown.stderr
    assert "session 1: no site profile (not commissioned)" in shown.stdout
    assert f"session 2: site profile sha256 {SITE}" in shown.stdout
