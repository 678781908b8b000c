"""A results database damaged in its middle pages (a failing SD card): every command that reads it
says so in one line naming the file and how to recover what it holds, never a sqlite3 traceback;
and a row id too large for SQLite is "no such row", not an OverflowError."""

from __future__ import annotations

import sqlite3

import pytest

from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo, StoreError
from tests.cli_runner import run_edge_all as edge_all

from .conftest import save_png

LABELS = ["Benign", "Early", "Pre", "Pro"]
PAGE = 4096


def fill(db, sessions: int = 4, rows: int = 150) -> None:
    """A real database of a few hundred pages, written through the store like a capture writes it."""
    with ResultsStore.open(db) as store:
        for s in range(sessions):
            started = "2026-01-01T00:00:00+00:00"
            info = SessionInfo(started, "folder:/drop", f"S{s}", "m", "ab" * 32, LABELS, 0.6, None, "test")
            session = store.start_session(info)
            for i in range(rows):
                store.add(CaptureRecord(
                    session, f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00", f"S{s}", "folder:/drop", i,
                    f"/drop/S{s}/field-{i:04d}.png", "classified", "ab" * 32, label="Pre", confidence=0.9,
                    probabilities=dict.fromkeys(LABELS, 0.25), quality={"focus": 100.0},
                ))  # fmt: skip


def damage(db) -> None:
    """Overwrite every other page of the middle third, and the root page of `samples` (page 1, the
    schema, stays whole: the file still opens, like a card that fails in its middle)."""
    with sqlite3.connect(db) as connection:
        (root,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'samples'").fetchone()
        assert connection.execute("PRAGMA page_size").fetchone()[0] == PAGE
    data = bytearray(db.read_bytes())
    pages = len(data) // PAGE
    for page in [*range(pages // 3, 2 * pages // 3, 2), root - 1]:
        data[page * PAGE + 100 : (page + 1) * PAGE - 100] = b"\xa5" * (PAGE - 200)
    db.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def damaged_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("damaged") / "results.db"
    fill(db)
    damage(db)
    return db


def said_damaged_in_one_line(result, db) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    (line,) = [
        x for x in result.stderr.strip().splitlines() if not x.startswith("warning: ")
    ]  # the demo-bundle notice
    assert line.startswith(f"error: {db}: cannot ") and "database disk image is malformed" in line, line
    assert f"sqlite3 {db} .recover" in line


@pytest.mark.parametrize(
    "command",
    [["list"], ["list", "--sessions"], ["list", "--json"], ["show", "S1"], ["show", "S1", "--json"]],
    ids=" ".join,
)
def test_results_commands_say_the_database_is_damaged(damaged_db, command):
    said_damaged_in_one_line(edge_all("results", *command, "--db", damaged_db), damaged_db)


def test_results_export_says_the_database_is_damaged(damaged_db, tmp_path):
    result = edge_all("results", "export", "--csv", tmp_path / "out.csv", "--db", damaged_db)
    said_damaged_in_one_line(result, damaged_db)


def test_a_capture_into_a_damaged_database_says_so(damaged_db, tmp_path, int8_bundle, smears):
    save_png(tmp_path / "drop" / "field.png", smears[0])
    result = edge_all(
        "capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{tmp_path / 'drop'}",
        "--settle", "0", "--db", damaged_db, "--sample-id", "S1", "--count", "1", timeout=120,
    )  # fmt: skip
    said_damaged_in_one_line(result, damaged_db)


def test_the_store_itself_raises_one_line_errors(damaged_db):
    """What a web station calls: the store, not the command line."""
    with ResultsStore.open(damaged_db, create=False) as store:
        for read in (
            store.samples,
            lambda: list(store.captures(sample_id="S1")),
            lambda: store.sample("S1"),
        ):
            with pytest.raises(StoreError, match=r"\.recover"):
                read()


@pytest.mark.parametrize("ident", ["99999999999999999999", str(2**63), "\u00b2"])
def test_results_show_with_an_impossible_row_id_is_no_such_row(tmp_path, ident):
    db = tmp_path / "results.db"
    fill(db, sessions=1, rows=2)
    result = edge_all("results", "show", ident, "--db", db)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: no sample or row {ident!r} in {db}"
