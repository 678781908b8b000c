"""The results database, atomic frame files and the per-sample summary, on a real SQLite file."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter

import pytest

from edge_all.capture.frames import save_frame
from edge_all.digest import sha256_file
from edge_all.results.schema import _SCHEMA_V1, SCHEMA_VERSION
from edge_all.results.store import (
    CaptureRecord,
    ResultsStore,
    Review,
    SessionInfo,
    StorageFull,
    StoreError,
    default_db_path,
)
from edge_all.results.summary import summarize
from edge_all.triage.screening import INCONCLUSIVE, NO_ALL, REFER, FieldCounts, ScreeningRule

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
        ids = [store.add(record(session, i)).id for i in range(3)]
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


LABELS = ("Benign", "Early", "Pre", "Pro")


def test_summary_counts_and_screening_call():
    summary = summarize(
        rows(
            ("classified", "Benign"),
            ("classified", "Pre"),
            ("classified", "Pre"),
            ("uncertain", "Pro"),
            ("referred", "Pre"),
            ("rejected", None),
        ),
        LABELS,
        ScreeningRule(min_all_like=2, min_good_fields=20),
    )[0]
    assert summary.per_class == Counter({"Pre": 2, "Benign": 1})
    assert summary.counts == FieldCounts(
        fields=6, good=3, all_like=2, uncertain=1, referred=1, rejected=1, errors=0
    )
    assert summary.reject_reasons == Counter({"too_dark": 1})
    assert summary.call.verdict == REFER
    text = summary.describe()
    assert "good 3 (Benign 1, Early 0, Pre 2, Pro 0)" in text
    assert "screening call: refer: ALL-like cells in 2 of 3 good fields" in text


def test_a_minority_of_all_like_fields_refers_the_slide():
    """The issue's example: 12 Benign fields and 3 Pre-B fields is not 'Benign'."""
    data = rows(*([("classified", "Benign")] * 12 + [("classified", "Pre")] * 3))
    (summary,) = summarize(data, LABELS, ScreeningRule(min_all_like=2, min_good_fields=10))
    assert summary.call.verdict == REFER


def test_summaries_are_per_sample():
    data = [
        {"sample_id": "A", "status": "classified", "label": "Pre", "reason": None},
        {"sample_id": "B", "status": "classified", "label": "Benign", "reason": None},
        {"sample_id": "A", "status": "classified", "label": "Pre", "reason": None},
    ]
    rule = ScreeningRule(min_all_like=2, min_good_fields=1)
    assert [(s.sample_id, s.counts.fields, s.call.verdict) for s in summarize(data, LABELS, rule)] == [
        ("A", 2, REFER),
        ("B", 1, NO_ALL),
    ]


def test_each_frame_brings_its_samples_call_up_to_date(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(
            dataclasses.replace(INFO, screening_rule=ScreeningRule(min_all_like=2, min_good_fields=3))
        )
        store.add(record(session, 0, label="Benign"))
        assert store.sample("S1")["verdict"] == INCONCLUSIVE
        store.add(record(session, 1, label="Pre"))
        store.add(
            record(session, 2, "referred", "Pre", unfamiliarity=3.5, reason="unlike the training images")
        )
        assert store.sample("S1")["verdict"] == INCONCLUSIVE  # a referred field never counts as ALL-like
        store.add(record(session, 3, label="Pro"))
        sample = store.sample("S1")
        assert sample["verdict"] == REFER and sample["call"].startswith("refer: ALL-like cells in 2 of 3")
        assert (sample["fields"], sample["good"], sample["all_like"], sample["referred"]) == (4, 3, 2, 1)
        assert store.capture(3)["unfamiliarity"] == 3.5


def test_a_recorded_result_can_never_be_changed_or_deleted(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        row = store.add(record(session, 0)).id
        for sql in ("UPDATE captures SET label = 'Benign' WHERE id = ?", "DELETE FROM captures WHERE id = ?"):
            with pytest.raises(sqlite3.IntegrityError, match="never"):
                store.connection.execute(sql, (row,))
        assert store.capture(row)["label"] == "Pre"


def test_reviews_sit_beside_the_result_and_are_append_only(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        field = store.add(record(session, 0)).id
        store.add_review(
            Review("S1", "Dr A", "Early", "2026-01-02T09:00:00+00:00", field, "blast, not pre-B")
        )
        store.add_review(Review("S1", "Dr A", "refer", "2026-01-02T09:05:00+00:00", comment="confirmed"))
        reviews = store.reviews("S1")
        assert [(r["capture_id"], r["decision"]) for r in reviews] == [(field, "Early"), (None, "refer")]
        assert store.capture(field)["label"] == "Pre"  # the model's answer stays as it was
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.connection.execute("UPDATE reviews SET decision = 'Pro'")
        with pytest.raises(StoreError, match="no field"):  # a field of another sample
            store.add_review(Review("OTHER", "Dr A", "Pre", "2026-01-02T09:00:00+00:00", field))


def test_sample_search_treats_wildcards_as_text(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        for sample in ("A_1", "AB1", "100%", "x"):
            session = store.start_session(dataclasses.replace(INFO, sample_id=sample))
            store.add(record(session, 0, sample_id=sample))
        assert [s["sample_id"] for s in store.samples(search="_")] == ["A_1"]
        assert [s["sample_id"] for s in store.samples(search="%")] == ["100%"]
        assert len(store.samples(limit=2)) == 2 and len(store.samples(limit=2, offset=2)) == 2


def test_session_uids_are_unique_across_databases(tmp_path):
    uids = set()
    for name in ("a.db", "b.db"):  # a replaced database starts its session ids at 1 again
        with ResultsStore.open(tmp_path / name) as store:
            session = store.start_session(INFO)
            uids.add(store.session(session)["uid"])
    assert len(uids) == 2


def test_a_version_1_database_is_upgraded_in_place_keeping_every_row(tmp_path):
    path = tmp_path / "v1.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        f"{_SCHEMA_V1} INSERT INTO schema_version VALUES (1);"
        "INSERT INTO sessions (started_at, source, sample_id, model, bundle_sha256, labels, threshold, "
        "edge_all_version) VALUES ('2025-01-01', 'video:a', 'OLD', 'm', 'ab', "
        '\'["Benign", "Early", "Pre", "Pro"]\', 0.6, \'0.1.0\');'
    )
    for i, label in enumerate(("Pre", "Pro", "Benign")):
        connection.execute(
            "INSERT INTO captures (session_id, captured_at, sample_id, source, frame_index, origin, status,"
            " label, bundle_sha256) VALUES (1, ?, 'OLD', 'video:a', ?, ?, 'classified', ?, 'ab')",
            (f"2025-01-01T00:00:0{i}", i, f"video:a#{i}", label),
        )
    connection.commit()
    connection.close()
    with ResultsStore.open(path) as store:
        assert store.connection.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert [r["label"] for r in store.captures(sample_id="OLD")] == ["Pre", "Pro", "Benign"]
        assert store.sample("OLD")["verdict"] == REFER  # backfilled with the default rule
        assert store.sessions()[0]["uid"]
        session = store.start_session(INFO)
        store.add(record(session, 0, "referred", "Pre", unfamiliarity=2.0))  # the new status is allowed
        old = store.add(record(1, 3, "classified", "Pre", sample_id="OLD")).id  # the old session records on
        assert store.capture(old)["sample_id"] == "OLD" and store.session_rule(1)[0] == ScreeningRule()


def test_the_stores_own_counts_are_the_summary_of_its_rows(tmp_path):
    """summaries() counts with GROUP BY what summarize() counts row by row, order of first appearance
    included (per class, per reject reason, per sample)."""
    rule = ScreeningRule(min_all_like=1, min_good_fields=2)
    with ResultsStore.open(tmp_path / "r.db") as store:
        first = store.start_session(INFO)
        plan = [
            ("rejected", None, "too_dark: mean brightness 90 < 130"), ("classified", "Pro", None),
            ("classified", "Benign", None), ("rejected", None, "no colon here"), ("uncertain", "Pre", "low"),
            ("rejected", None, None), ("rejected", None, "too_dark: mean brightness 80 < 130"),
            ("referred", "Early", "unlike"), ("error", None, "unreadable: x"), ("classified", "Pro", None),
            ("rejected", None, ":starts with a colon"),
        ]  # fmt: skip
        for i, (status, label, reason) in enumerate(plan):
            store.add(record(first, i, status, label, reason=reason))
        other = store.start_session(dataclasses.replace(INFO, sample_id="S2"))
        store.add(record(other, 0, "classified", "Benign", sample_id="S2"))
        store.add(record(other, 1, "rejected", None, sample_id="S2", reason="out_of_focus: 3 < 40"))
        later = store.start_session(INFO)  # S1 again, after a restart
        store.add(record(later, 0, "classified", "Early"))
        labels = INFO.labels
        cases = [{}, {"sample_id": "S1"}, {"session_id": first}, {"session_id": later}, {"sample_id": "S2"}]
        for where in cases:
            counted = store.summaries(**where, labels=labels, rule=rule)
            summed = summarize(store.captures(**where), labels, rule)
            assert [s.sample_id for s in counted] == [s.sample_id for s in summed], where
            for mine, theirs in zip(counted, summed, strict=True):
                assert list(mine.per_status.items()) == list(theirs.per_status.items()), where
                assert list(mine.per_class.items()) == list(theirs.per_class.items()), where
                assert list(mine.reject_reasons.items()) == list(theirs.reject_reasons.items()), where
                assert (mine.rule, mine.labels) == (rule, tuple(labels))
                assert mine.to_dict() == theirs.to_dict() and mine.describe() == theirs.describe()
        (whole,) = store.summaries(sample_id="S1", labels=labels, rule=rule)
        assert dict(whole.reject_reasons) == {"too_dark": 2, "no colon here": 1, "": 2}
        assert whole.counts.fields == 12 and whole.call.verdict == REFER
        assert store.summaries(session_id=999) == [] and store.summaries(sample_id="none") == []


def test_adding_a_field_gives_its_id_and_its_samples_call(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        stored = store.add(record(session, 0, label="Benign"))
        sample = store.sample("S1")
        assert store.capture(stored.id)["frame_index"] == 0
        assert (stored.call.verdict, stored.call.reason) == (sample["verdict"], sample["call"]) == (
            INCONCLUSIVE, "inconclusive: 1 good field of the 20 needed",
        )  # fmt: skip
        assert store.add(record(session, 1)).call.reason.startswith("inconclusive: ALL-like cells in 1 field")
        assert store.add(record(session, 2)).call.verdict == REFER
