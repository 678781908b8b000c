"""What SQLite does to the results database becomes one line naming the file, and the small queries
the capture loop relies on (origins, has_sample, camera settings) answer exactly."""

from __future__ import annotations

import dataclasses
import errno
import sqlite3

import pytest

from edge_all.capture.store import (
    ResultsStore,
    StorageFull,
    StoreError,
    database_failure,
    is_disk_full,
)

from .test_store import INFO, record


def test_sqlite_and_os_errors_that_mean_a_full_disk_are_recognised(tmp_path):
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(sqlite3.OperationalError("no such table: x"))
    assert not is_disk_full(ValueError("full"))
    path = tmp_path / "r.db"
    full = database_failure(path, OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(full, StorageFull)
    assert str(full) == f"{path}: database or disk is full ([Errno 28] No space left on device)"


def test_each_failure_says_what_to_do(tmp_path):
    path = tmp_path / "r.db"
    locked = database_failure(path, sqlite3.OperationalError("database is locked"))
    assert type(locked) is StoreError
    assert str(locked) == (
        f"{path}: the results database is locked by another program (database is locked); try again"
    )
    busy = database_failure(path, sqlite3.OperationalError("database is busy"))
    assert "locked by another program" in str(busy)
    damaged = str(database_failure(path, sqlite3.DatabaseError("database disk image is malformed"), "read"))
    assert damaged == (
        f"{path}: cannot read the results database (database disk image is malformed); the file is "
        "damaged (or not a database): stop edge-all, keep a copy of it, and recover what it holds with: "
        f"sqlite3 {path} .recover | sqlite3 {path}.recovered"
    )
    for message in ("file is not a database", "corrupt index"):
        assert ".recover" in str(database_failure(path, sqlite3.DatabaseError(message)))
    plain = database_failure(path, sqlite3.OperationalError("no such table: captures"))
    assert str(plain) == f"{path}: cannot use the results database (no such table: captures)"


def test_numbers_and_text_sqlite_cannot_hold_are_one_line_errors(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        with pytest.raises(StoreError) as raised:
            store.add(record(session, 2**64))
        assert str(raised.value).startswith(
            f"{tmp_path / 'r.db'}: a number too large for the results database ("
        )
        with pytest.raises(StoreError) as raised:
            store.add(record(session, 1, sample_id="S\udcff"))
        assert str(raised.value).endswith("is not valid UTF-8 text (the database holds UTF-8)")
        assert "S\\xff" in str(raised.value)  # the bytes shown escaped, as printable() writes them
        # A generator method (captures) raises the same one line, not sqlite3's error.
        store.connection.execute("DROP TABLE reviews")
        store.connection.execute("ALTER TABLE captures RENAME TO gone")
        with pytest.raises(StoreError, match=r"cannot use the results database \(no such table: captures\)"):
            list(store.captures())
        with pytest.raises(StoreError, match=r"cannot use the results database \(no such table: captures\)"):
            store.has_sample("S1")


def test_a_locked_database_is_reported_not_waited_on_for_ever(tmp_path):
    path = tmp_path / "r.db"
    ResultsStore.open(path).close()
    store = ResultsStore.open(path)
    store.connection.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another program"):
            store.start_session(INFO)
    finally:
        holder.rollback()
        holder.close()
        store.close()


def test_the_capture_loop_queries_answer_exactly(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        first = store.start_session(INFO)
        store.add(record(first, 0))
        store.add(dataclasses.replace(record(first, 1), origin="video:y.avi#1"))
        store.add(dataclasses.replace(record(first, 2), source="folder:z"))
        nameless = store.start_session(dataclasses.replace(INFO, sample_id=None))
        store.add(record(nameless, 0, sample_id=None))
        assert sorted(store.origins("video:x.avi", "S1")) == ["video:x.avi#0", "video:y.avi#1"]
        assert store.origins("video:x.avi", None) == ["video:x.avi#0"]
        assert store.origins("folder:z", "S2") == []
        assert store.has_sample("S1") and not store.has_sample("S2") and not store.has_sample("")
        assert store.sample_ids() == ["S1", None]
        store.set_camera_settings(first, {"exposure_us": 1000})
        store.end_session(first, "2026-01-01T01:00:00+00:00", "end of video")
        row = store.session(first)
        assert row["camera_settings"] == '{"exposure_us": 1000}'
        assert (row["ended_at"], row["end_reason"]) == ("2026-01-01T01:00:00+00:00", "end of video")
        assert (
            store.session(nameless)["camera_settings"] is None and store.session(nameless)["ended_at"] is None
        )
        assert [s["id"] for s in store.sessions()] == [first, nameless]
        with pytest.raises(StoreError, match=rf"^{tmp_path / 'r.db'}: no session 99$"):
            store.session(99)
        with pytest.raises(StoreError, match=r": no session 99$"):
            store.add(record(99, 0))
        assert store.capture(-1) is None and store.capture(2**63) is None and store.capture(999) is None
        assert store.capture(1)["frame_index"] == 0
