"""Field numbers are unique within a sample: a second session of one sample id goes on counting, and a
version 2 database that already holds duplicated frame indexes is numbered on upgrade, nothing lost."""

from __future__ import annotations

import sqlite3

import pytest

from edge_all.results.schema import _SCHEMA_V1, SCHEMA_VERSION, _upgrade_to_v2
from edge_all.results.store import ResultsStore
from edge_all.triage.screening import ScreeningRule

from .test_store import INFO, record


def test_a_second_session_of_a_sample_goes_on_counting(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        first = store.start_session(INFO)
        for index in range(3):
            store.add(record(first, index))
        other = store.add(record(first, 0, sample_id="S2")).id
        second = store.start_session(INFO)
        for index in range(2):
            store.add(record(second, index))  # the source counts from 0 again
        rows = list(store.captures(sample_id="S1"))
        assert [row["frame_index"] for row in rows] == [0, 1, 2, 0, 1]
        assert [row["field_number"] for row in rows] == [1, 2, 3, 4, 5]
        assert store.capture(other)["field_number"] == 1  # each sample counts its own
        with pytest.raises(sqlite3.IntegrityError):  # the database itself refuses a number twice
            store.connection.execute(
                "INSERT INTO captures (session_id, captured_at, sample_id, source, frame_index, origin, "
                "status, bundle_sha256, field_number) VALUES (?, 'x', 'S1', 's', 9, 'o', 'error', 'ab', 3)",
                (first,),
            )


def test_a_version_2_database_with_duplicated_fields_is_numbered_keeping_every_row(tmp_path):
    path = tmp_path / "v2.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        f"{_SCHEMA_V1} INSERT INTO schema_version VALUES (1);"
    )
    for session in (1, 2):  # two sessions of one sample, both counting from frame 0
        connection.execute(
            "INSERT INTO sessions (started_at, source, sample_id, model, bundle_sha256, labels, threshold, "
            "edge_all_version) VALUES ('2025-01-01', 'video:a', 'DUP', 'm', 'ab', "
            '\'["Benign", "Early", "Pre", "Pro"]\', 0.6, \'0.1.0\')'
        )
        for i, label in enumerate(("Pre", "Benign", "Pro")):
            connection.execute(
                "INSERT INTO captures (session_id, captured_at, sample_id, source, frame_index, origin, "
                "status, label, bundle_sha256) VALUES (?, ?, 'DUP', 'video:a', ?, ?, 'classified', ?, 'ab')",
                (session, f"2025-01-01T00:0{session}:0{i}", i, f"video:a#{i}", label),
            )
    connection.commit()
    _upgrade_to_v2(connection, lambda *args: None)
    connection.execute(
        "INSERT INTO reviews (sample_id, capture_id, reviewed_at, reviewer, decision) "
        "VALUES ('DUP', 4, '2025-01-02', 'Dr A', 'Benign')"
    )
    connection.commit()
    assert connection.execute("SELECT version FROM schema_version").fetchone()[0] == 2
    connection.close()

    with ResultsStore.open(path) as store:
        version = store.connection.execute("SELECT version FROM schema_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        rows = list(store.captures(sample_id="DUP"))
        assert [(r["id"], r["frame_index"], r["field_number"], r["label"]) for r in rows] == [
            (1, 0, 1, "Pre"), (2, 1, 2, "Benign"), (3, 2, 3, "Pro"),
            (4, 0, 4, "Pre"), (5, 1, 5, "Benign"), (6, 2, 6, "Pro"),
        ]  # fmt: skip
        assert [(r["capture_id"], r["decision"]) for r in store.reviews("DUP")] == [(4, "Benign")]
        with pytest.raises(Exception, match="never changed"):  # still append-only after the upgrade
            store.connection.execute("UPDATE captures SET label = 'Benign' WHERE id = 1")
        assert store.session_rule(1)[0] == ScreeningRule()
        new = store.add(record(2, 3, sample_id="DUP")).id
        assert store.capture(new)["field_number"] == 7
