"""The results database, atomic frame files and the per-sample summary, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

from edge_all.capture.frames import save_frame
from edge_all.capture.store import (
    SCHEMA_VERSION,
    CaptureRecord,
    ResultsStore,
    SessionInfo,
    StorageFull,
    StoreError,
    default_db_path,
)
from edge_all.capture.summary import NO_CALL, SampleSummary, summarize
from edge_all.digest import sha256_file

INFO = SessionInfo(
    started_at="2026-01-01T00:00:00+00:00",
    source="video:x.avi",
    sample_id="S1",
    model="bundle",
    bundle_sha256="ab" * 32,
    labels=["Benign", "Early", "Pre", "Pro"],
    threshold=0.6,
    quality_thresholds={"min_focus": 40.0},
    edge_all_version="test",
)


def record(session_id: int, index: int, status: str = "classified", label: str | None = "Pre", **extra):
    return CaptureRecord(
        session_id=session_id,
        captured_at="2026-01-01T00:00:01+00:00",
        sample_id=extra.pop("sample_id", "S1"),
        source="video:x.avi",
        frame_index=index,
        origin=f"video:x.avi#{index}",
        status=status,
        bundle_sha256="ab" * 32,
        label=label,
        confidence=0.9 if label else None,
        probabilities={"Benign": 0.05, "Early": 0.03, "Pre": 0.9, "Pro": 0.02} if label else None,
        quality={"brightness": 200.0, "contrast": 30.0, "clipped": 0.0, "stained": 0.1, "focus": 500.0},
        **extra,
    )


def test_rows_survive_closing_and_reopening(tmp_path):
    path = tmp_path / "deep" / "results.db"
    with ResultsStore.open(path) as store:
        session = store.start_session(INFO)
        ids = [store.add(record(session, i)) for i in range(3)]
        store.add(record(session, 3, "rejected", None, reason="out_of_focus: focus 3 < 40"))
        store.end_session(session, "2026-01-01T00:01:00+00:00", "3 frames captured")
    raw = sqlite3.connect(path)  # any SQLite reader sees the committed rows
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT COUNT(*) FROM captures").fetchone()[0] == 4
    raw.close()
    with ResultsStore.open(path, create=False) as store:
        rows = list(store.captures(sample_id="S1"))
        assert [row["id"] for row in rows[:3]] == ids
        assert rows[3]["status"] == "rejected" and rows[3]["label"] is None
        assert store.capture(ids[1])["focus"] == 500.0
        assert store.sessions()[0]["end_reason"] == "3 frames captured"


def test_reading_a_missing_or_foreign_database_fails_clearly(tmp_path):
    with pytest.raises(StoreError, match="no results database"):
        ResultsStore.open(tmp_path / "none.db", create=False)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not an edge-all results database"):
        ResultsStore.open(other)
    newer = tmp_path / "newer.db"
    ResultsStore.open(newer).close()
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        ResultsStore.open(newer)
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        ResultsStore.open(tmp_path / "garbage.db")


def test_a_full_database_raises_storage_full_and_stays_readable(tmp_path):
    path = tmp_path / "results.db"
    store = ResultsStore.open(path)
    session = store.start_session(INFO)
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own size limit
    written = 0
    with pytest.raises(StorageFull, match="full"):
        for i in range(10_000):
            store.add(record(session, i, reason="x" * 400))
            written += 1
    store.close()
    with ResultsStore.open(path, create=False) as again:
        assert len(list(again.captures())) == written > 0


def test_default_database_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "edge-all" / "results.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "edge-all" / "results.db"


def test_saved_frames_are_whole_files_with_their_hash(tmp_path, smear_frames):
    saved = save_frame(smear_frames[0], tmp_path / "frames", "f0", "png")
    assert saved.path.name == "f0.png" and saved.sha256 == sha256_file(saved.path)
    jpeg = save_frame(smear_frames[1], tmp_path / "frames", "f1", "jpeg")
    assert jpeg.path.suffix == ".jpg" and jpeg.path.read_bytes()[:2] == b"\xff\xd8"
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["f0.png", "f1.jpg"]  # no temp left


def rows(*statuses_labels):
    return [
        {"sample_id": "S", "status": s, "label": label, "reason": "too_dark: x"}
        for s, label in statuses_labels
    ]


def test_majority_call_and_counts():
    summary = summarize(
        rows(
            ("classified", "Pre"),
            ("classified", "Pre"),
            ("classified", "Pro"),
            ("uncertain", "Pro"),
            ("rejected", None),
        )
    )[0]
    assert summary.call == "Pre"
    assert summary.per_class == Counter({"Pre": 2, "Pro": 1})
    assert (summary.uncertain, summary.rejected, summary.frames) == (1, 1, 5)
    assert summary.reject_reasons == Counter({"too_dark": 1})


def test_ties_and_empty_samples_make_no_call():
    assert summarize(rows(("classified", "Pre"), ("classified", "Pro")))[0].call == NO_CALL
    assert summarize(rows(("uncertain", "Pre"), ("rejected", None)))[0].call == NO_CALL
    assert SampleSummary("S").call == NO_CALL
    text = summarize(rows(("classified", "Pre")))[0].describe(["Benign", "Early", "Pre", "Pro"])
    assert "Benign 0, Early 0, Pre 1, Pro 0" in text and "majority call: Pre" in text


def test_summaries_are_per_sample():
    data = [
        {"sample_id": "A", "status": "classified", "label": "Pre", "reason": None},
        {"sample_id": "B", "status": "classified", "label": "Benign", "reason": None},
        {"sample_id": "A", "status": "classified", "label": "Pre", "reason": None},
    ]
    assert [(s.sample_id, s.frames, s.call) for s in summarize(data)] == [("A", 2, "Pre"), ("B", 1, "Benign")]
