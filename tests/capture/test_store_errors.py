"""What SQLite does to the results database becomes one line naming the file, and the small queries
the capture loop relies on (origins, has_sample, camera settings) answer exactly."""

from __future__ import annotations

import dataclasses
import errno
import json
import re
import sqlite3

import pytest

from edge_all.results.store import (
    DatabaseGone,
    ResultsStore,
    Review,
    StorageFull,
    StoreError,
    database_failure,
    is_disk_full,
)
from edge_all.triage.screening import NOT_SCREENING, ScreeningRule

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


def test_a_database_deleted_or_replaced_while_open_is_rescued_to_a_dated_copy(tmp_path):
    path = tmp_path / "results.db"
    store = ResultsStore.open(path)
    session = store.start_session(INFO)
    store.add(record(session, 0))
    path.unlink()
    with pytest.raises(DatabaseGone) as raised:
        store.add(record(session, 1))
    (rescue,) = tmp_path.glob("results.rescued-*.db")
    assert re.fullmatch(r"results\.rescued-\d{8}T\d{6}Z\.db", rescue.name), rescue.name
    assert str(raised.value) == (
        f"{path}: the results database was deleted while in use; every frame recorded so far "
        f"was saved to {rescue}; stopped"
    )
    with ResultsStore.open(rescue, create=False) as rescued:
        assert [row["frame_index"] for row in rescued.captures()] == [0, 1]
    store.close()

    other = tmp_path / "other.db"
    store = ResultsStore.open(other)
    session = store.start_session(INFO)
    ResultsStore.open(tmp_path / "new.db").close()
    (tmp_path / "new.db").replace(other)
    with pytest.raises(DatabaseGone, match=r"was replaced by another file while in use; every frame"):
        store.add(record(session, 0))
    store.close()


def test_sessions_keep_what_they_were_started_with(tmp_path):
    rule = ScreeningRule(min_all_like=3, min_good_fields=7)
    info = dataclasses.replace(INFO, screening_rule=rule, camera_settings={"gain": 2.0})
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(info)
        row = store.session(session)
        assert json.loads(row["quality_thresholds"]) == {"min_focus": 40.0}
        assert json.loads(row["screening_rule"]) == {"min_all_like": 3, "min_good_fields": 7}
        assert json.loads(row["camera_settings"]) == {"gain": 2.0} and len(row["uid"]) == 32
        assert store.session_rule(session) == (rule, INFO.labels)
        plain = store.start_session(dataclasses.replace(INFO, quality_thresholds=None))
        assert store.session(plain)["quality_thresholds"] is None
        assert store.session(plain)["camera_settings"] is None


def test_every_measured_value_of_a_frame_is_stored(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        stored = record(session, 0)
        store.add(stored)
        store.add(dataclasses.replace(record(session, 1, "rejected", None), reason="too_dark"))
        first, second = store.captures(session_id=session)
        assert {key: first[key] for key in stored.quality} == stored.quality
        assert json.loads(first["probabilities"]) == stored.probabilities
        assert second["probabilities"] is None and second["reason"] == "too_dark"
        later = store.start_session(INFO)
        store.add(record(later, 2))
        assert [row["frame_index"] for row in store.captures(session_id=later)] == [2]
        assert [row["frame_index"] for row in store.captures("S1", session)] == [0, 1]
        assert list(store.captures("S2", session)) == []


def test_a_samples_first_and_last_frame_times_are_kept(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        for i, at in enumerate(["2026-01-01T10:00:00", "2026-01-01T09:00:00", "2026-01-01T11:00:00"]):
            store.add(dataclasses.replace(record(session, i, label="Benign" if i else "Pre"), captured_at=at))
        sample = store.sample("S1")
        assert (sample["first_captured_at"], sample["last_captured_at"]) == (
            "2026-01-01T09:00:00",
            "2026-01-01T11:00:00",
        )


def test_frames_without_a_sample_id_form_the_unnamed_sample(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(dataclasses.replace(INFO, sample_id=None))
        field_id = store.add(record(session, 0, sample_id=None)).id
        assert store.sample(None)["sample_id"] == "" and store.sample("")["sample_id"] == ""
        store.add_review(Review(None, "dr", "Pre", "2026-01-02", capture_id=field_id))
        assert store.reviewed_samples([None]) == set()  # a field's review is not the sample's
        store.add_review(Review(None, "dr", "refer", "2026-01-02"))
        assert [r["decision"] for r in store.reviews(None)] == ["Pre", "refer"]
        assert store.reviewed_samples([None, "S9"]) == {""}
        with pytest.raises(StoreError, match=rf"^no field {field_id} in sample 'S1'$"):
            store.add_review(Review("S1", "dr", "Pre", "2026-01-02", capture_id=field_id))


def test_samples_page_through_a_search(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        for i, sample in enumerate(["A1", "A2", "B1"]):
            session = store.start_session(dataclasses.replace(INFO, sample_id=sample))
            at = f"2026-01-0{i + 1}T00:00:00"
            store.add(dataclasses.replace(record(session, 0, sample_id=sample), captured_at=at))
        assert [s["sample_id"] for s in store.samples(limit=2)] == ["B1", "A2"]  # latest first
        assert [s["sample_id"] for s in store.samples("A", limit=1)] == ["A2"]
        assert [s["sample_id"] for s in store.samples("A", limit=5, offset=1)] == ["A1"]


def test_opening_makes_missing_folders_and_names_what_stops_it(tmp_path):
    ResultsStore.open(tmp_path / "a" / "b" / "results.db").close()
    assert (tmp_path / "a" / "b" / "results.db").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError) as raised:
        ResultsStore.open(tmp_path / "file" / "results.db")
    assert (
        str(raised.value)
        == f"{tmp_path / 'file' / 'results.db'}: cannot create results database (File exists)"
    )
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as raised:
        ResultsStore.open(tmp_path / "garbage.db")
    assert str(raised.value).startswith(
        f"{tmp_path / 'garbage.db'}: cannot open the results database (file is not a database); "
        "the file is damaged"
    )
    sqlite3.connect(tmp_path / "empty.db").close()
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(StoreError) as raised:
        ResultsStore.open(tmp_path / "empty.db", create=False)
    assert str(raised.value) == f"{tmp_path / 'empty.db'}: empty database (no edge-all results yet)"


def test_a_database_file_without_a_suffix_is_rescued_as_db(tmp_path):
    path = tmp_path / "results"
    store = ResultsStore.open(path)
    session = store.start_session(INFO)
    path.unlink()
    with pytest.raises(DatabaseGone):
        store.add(record(session, 0))
    (rescue,) = tmp_path.glob("results.rescued-*")
    assert re.fullmatch(r"results\.rescued-\d{8}T\d{6}Z\.db", rescue.name), rescue.name
    store.close()


def test_a_model_without_a_benign_class_never_calls_a_sample(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(dataclasses.replace(INFO, labels=["red", "green", "blue"]))
        for i in range(30):
            store.add(record(session, i, label="red"))
        assert store.sample("S1")["verdict"] == NOT_SCREENING
        assert store.sample("no such sample") is None


def test_a_search_for_a_backslash_matches_it_literally(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        for sample in ["A\\1", "A1", "XX\\XX"]:
            session = store.start_session(dataclasses.replace(INFO, sample_id=sample))
            store.add(record(session, 0, sample_id=sample))
        assert sorted(s["sample_id"] for s in store.samples("\\")) == ["A\\1", "XX\\XX"]
        assert [s["sample_id"] for s in store.samples("A\\")] == ["A\\1"]
        assert store.count_samples("\\") == 2
