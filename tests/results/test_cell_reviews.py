"""Schema version 7: a specialist's word on one white cell, stored beside the model's cell (never over
it), append-only; a version 6 database is upgraded in place with every row kept. And the flagged view
reads the session's label roles, as the slide call does."""

from __future__ import annotations

import sqlite3

import pytest

from edge_all.results import schema
from edge_all.results.errors import StoreError
from edge_all.results.judged import JudgedCell
from edge_all.results.schema import SCHEMA_VERSION
from edge_all.results.store import CaptureRecord, CellReview, ResultsStore, Review, SessionInfo
from edge_all.results.summary import flagged_fields

ROLES = {"blast": "all_like", "neutrophil": "not_all_like", "smudge": "refer", "platelet": "not_a_white_cell"}
INFO = SessionInfo(
    started_at="2026-01-01T00:00:00+00:00", source="folder:x", sample_id="C1", model="cells",
    bundle_sha256="cd" * 32, labels=list(ROLES), threshold=0.6, quality_thresholds=None,
    edge_all_version="test", label_roles=ROLES,
)  # fmt: skip


def field(session_id: int, index: int, label: str, cells: tuple[JudgedCell, ...] = (), status="classified"):
    return CaptureRecord(
        session_id=session_id, captured_at=f"2026-01-01T00:00:0{index}+00:00", sample_id="C1",
        source="folder:x", frame_index=index, origin=f"x/{index}.png", status=status,
        bundle_sha256="cd" * 32, label=label, confidence=0.9, cells=cells,
    )  # fmt: skip


def cell(label: str, status: str, x: int = 10) -> JudgedCell:
    return JudgedCell((x, 10, x + 20, 30), label, 0.8, status)


def _version_6_database(path) -> None:
    """A database exactly as edge-all with schema 6 left it: every migration up to 6, then one cell
    model's slide with a field review."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(
        f"BEGIN; CREATE TABLE schema_version (version INTEGER NOT NULL); {schema._SCHEMA_V1}"
        " INSERT INTO schema_version VALUES (1); COMMIT;"
    )
    schema._upgrade_to_v2(connection, lambda sample, rule, labels: None)
    schema._upgrade_to_v3(connection)
    schema._upgrade_to_v4(connection)
    schema._upgrade_to_v5(connection)
    schema._add_only(connection, schema._MIGRATION_V6, 6)
    connection.executescript(
        """BEGIN;
        INSERT INTO sessions (started_at, source, sample_id, model, bundle_sha256, labels, threshold,
            edge_all_version, uid, label_roles, frames_read)
            VALUES ('2026-01-01', 'video:a', 'OLD', 'm', 'ab', '["blast", "neutrophil"]', 0.6, '0.1', 'u1',
            '{"blast": "all_like", "neutrophil": "not_all_like"}', 3);
        INSERT INTO captures (session_id, captured_at, sample_id, source, frame_index, origin, status,
            label, bundle_sha256, field_number) VALUES
            (1, '2026-01-01T00:00:00', 'OLD', 'video:a', 0, 'video:a#0', 'classified', 'blast', 'ab', 1);
        INSERT INTO cells (capture_id, x0, y0, x1, y1, label, confidence, status)
            VALUES (1, 5, 6, 25, 26, 'blast', 0.93, 'all-like');
        INSERT INTO reviews (sample_id, capture_id, reviewed_at, reviewer, decision)
            VALUES ('OLD', 1, '2026-01-02', 'Dr A', 'neutrophil');
        COMMIT;"""
    )
    assert connection.execute("SELECT version FROM schema_version").fetchone()[0] == 6
    connection.close()


def test_a_version_6_database_is_upgraded_past_7_and_keeps_everything(tmp_path):
    path = tmp_path / "v6.db"
    _version_6_database(path)
    with ResultsStore.open(path) as store:
        assert store.connection.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        (old,) = store.captures(sample_id="OLD")
        assert (old["label"], old["field_number"]) == ("blast", 1)
        (kept,) = store.cells(old["id"])
        assert (kept["box"], kept["label"], kept["confidence"], kept["reviewed_label"]) == (
            [5, 6, 25, 26], "blast", 0.93, None,
        )  # fmt: skip
        assert [(r["capture_id"], r["decision"]) for r in store.reviews("OLD")] == [(1, "neutrophil")]
        assert store.sessions()[0]["frames_read"] == 3
        store.add_cell_review(CellReview(kept["id"], "Dr B", "neutrophil", "2026-01-03T00:00:00+00:00"))
        assert store.cell(kept["id"])["reviewed_label"] == "neutrophil"


def test_cell_reviews_are_stored_beside_the_cell_and_never_changed(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        session = store.start_session(INFO)
        capture = store.add(
            field(session, 0, "blast", (cell("blast", "all-like"), cell("platelet", "dropped", 40)))
        ).id
        blast, platelet = store.cells(capture)
        store.add_cell_review(
            CellReview(blast["id"], "Dr Ada Okafor (ada)", "neutrophil", "2026-01-02T00:00:00+00:00")
        )
        store.add_cell_review(
            CellReview(
                blast["id"], "Dr Ada Okafor (ada)", "blast", "2026-01-02T00:01:00+00:00", "on second look"
            )
        )
        shown = store.cell(blast["id"])
        assert (shown["label"], shown["reviewed_label"], shown["reviewed_by"]) == (
            "blast",
            "blast",
            "Dr Ada Okafor (ada)",
        )
        assert shown["field_number"] == 1 and shown["sample_id"] == "C1"
        assert store.cell(platelet["id"])["reviewed_label"] is None
        history = store.cell_reviews("C1")
        assert [
            (r["cell_id"], r["label"], r["model_label"], r["field_number"], r["comment"]) for r in history
        ] == [
            (blast["id"], "neutrophil", "blast", 1, None),
            (blast["id"], "blast", "blast", 1, "on second look"),
        ]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.connection.execute("UPDATE cell_reviews SET label = 'platelet'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.connection.execute("DELETE FROM cell_reviews")
        with pytest.raises(sqlite3.IntegrityError, match="never changed"):
            store.connection.execute("UPDATE cells SET label = 'neutrophil'")
        with pytest.raises(StoreError, match="no white cell 999"):
            store.add_cell_review(CellReview(999, "Dr A", "blast", "2026-01-02T00:00:00+00:00"))
        assert store.cell_classes("C1") == {"blast": 1, "platelet": 1}
        assert [c["id"] for c in store.sample_cells("C1", "platelet", limit=10)] == [platelet["id"]]


def test_the_flagged_view_reads_the_sessions_label_roles(tmp_path):
    """A cell model's cleared field is labelled `neutrophil`, not Benign: it is not flagged; its
    ALL-like, uncertain and referred fields are, exactly the fields the sample row counts."""
    with ResultsStore.open(tmp_path / "f.db") as store:
        session = store.start_session(INFO)
        ids = [
            store.add(field(session, 0, "neutrophil", (cell("neutrophil", "cleared"),))).id,
            store.add(field(session, 1, "blast", (cell("blast", "all-like"),))).id,
            store.add(field(session, 2, "smudge", (cell("smudge", "referred"),), status="referred")).id,
            store.add(field(session, 3, "platelet", status="rejected")).id,
            store.add(field(session, 4, "neutrophil", status="uncertain")).id,
        ]
        flagged = [row["id"] for row in store.captures_page("C1", limit=10, flagged=True)]
        assert flagged == [ids[1], ids[2], ids[4]]
        assert flagged_fields(store.sample("C1")) == len(flagged)
        store.add_review(Review("C1", "Dr A", "blast", "2026-01-02T00:00:00+00:00", capture_id=ids[0]))
        assert [row["id"] for row in store.captures_page("C1", limit=10, flagged=True)] == flagged


def test_a_whole_field_model_still_flags_every_class_but_benign(tmp_path):
    whole = SessionInfo(**{**INFO.__dict__, "labels": ["Benign", "Early", "Pre", "Pro"], "label_roles": None})
    with ResultsStore.open(tmp_path / "w.db") as store:
        session = store.start_session(whole)
        ids = [store.add(field(session, i, label)).id for i, label in enumerate(["Benign", "Pre", "Early"])]
        assert [row["id"] for row in store.captures_page("C1", limit=10, flagged=True)] == ids[1:]
