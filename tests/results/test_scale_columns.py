"""Schema version 3: each field's scale and its source, the glass level and the session's scale are
stored; a version 2 database is upgraded in place and its rows read as they were (no scale)."""

from __future__ import annotations

import sqlite3

from edge_all.results import schema
from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo

INFO = SessionInfo(
    started_at="2026-01-01T00:00:00+00:00",
    source="folder:x",
    sample_id="S1",
    model="bundle",
    bundle_sha256="ab" * 32,
    labels=["Benign", "Early", "Pre", "Pro"],
    threshold=0.6,
    quality_thresholds=None,
    edge_all_version="test",
    um_per_px=0.1,
)


def record(session_id: int, index: int, **extra) -> CaptureRecord:
    return CaptureRecord(
        session_id=session_id, captured_at=f"2026-01-01T00:00:0{index}+00:00", sample_id="S1",
        source="folder:x", frame_index=index, origin=f"x/{index}.png", status="classified",
        bundle_sha256="ab" * 32, label="Benign", confidence=0.9, **extra,
    )  # fmt: skip


def _version_2_database(path) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(
        f"BEGIN; CREATE TABLE schema_version (version INTEGER NOT NULL); {schema._SCHEMA_V1}"
        " INSERT INTO schema_version VALUES (1); COMMIT;"
    )
    schema._upgrade_to_v2(connection, lambda sample, rule, labels: None)  # no samples to recount yet
    connection.execute(
        "INSERT INTO sessions (started_at, source, sample_id, model, bundle_sha256, labels, threshold, "
        "edge_all_version, uid) VALUES ('2025-06-01', 'video:a', 'OLD', 'm', 'ab', '[\"Benign\"]', 0.6, "
        "'0.1.0', 'abc')"
    )
    connection.execute(
        "INSERT INTO captures (session_id, captured_at, sample_id, source, frame_index, origin, status, "
        "label, bundle_sha256, brightness, focus) VALUES "
        "(1, '2025-06-01T00:00:00', 'OLD', 'video:a', 0, 'video:a#0', 'classified', 'Benign', 'ab', 120, 30)"
    )
    assert connection.execute("SELECT version FROM schema_version").fetchone()[0] == 2
    connection.close()


def test_a_version_2_database_is_upgraded_and_its_rows_have_no_scale(tmp_path):
    path = tmp_path / "v2.db"
    _version_2_database(path)
    with ResultsStore.open(path) as store:
        assert store.connection.execute("SELECT version FROM schema_version").fetchone()[0] >= 3
        (old,) = store.captures(sample_id="OLD")
        assert old["label"] == "Benign" and old["brightness"] == 120 and old["focus"] == 30
        assert old["um_per_px"] is None and old["scale_source"] is None and old["glass"] is None
        assert store.sessions()[0]["um_per_px"] is None


def test_each_field_keeps_its_scale_its_source_and_the_glass(tmp_path):
    with ResultsStore.open(tmp_path / "new.db") as store:
        session = store.start_session(INFO)
        store.add(record(session, 0, um_per_px=0.4, scale_source="site", quality={"glass": 151.5}))
        store.add(record(session, 1, um_per_px=None, scale_source="bundle-free"))
        first, second = store.captures(sample_id="S1")
        assert (first["um_per_px"], first["scale_source"], first["glass"]) == (0.4, "site", 151.5)
        assert (second["um_per_px"], second["scale_source"]) == (None, "bundle-free")
        assert store.session(session)["um_per_px"] == 0.1
