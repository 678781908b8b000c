"""docs/schemas/sync.schema.json is the schema the hub checks, and what the clinic sends fits it."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from edge_all.sync.outbox import Outbox, outbox_path
from edge_all.sync.protocol import body_sha256, schema

from .conftest import CELL_ROLES, record_cell_slide, record_slide

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "sync.schema.json"


def test_the_documented_schema_is_the_one_the_hub_checks():
    assert json.loads(DOCS.read_text(encoding="utf-8")) == schema()
    Draft202012Validator.check_schema(schema())


def test_what_the_outbox_sends_fits_the_schema(tmp_path):
    from edge_all.results.store import ResultsStore, Review

    db = tmp_path / "results.db"
    ids = record_slide(db, "PBS-0001", 3)
    with ResultsStore.open(db) as store:
        store.add_review(
            Review("PBS-0001", "Dr Okafor", "Pre", "2026-03-02T09:00:00.000+00:00", capture_id=ids[0])
        )
        store.add_review(
            Review("PBS-0001", "Dr Okafor", "refer", "2026-03-02T09:00:00.000+00:00", comment="x")
        )
    with Outbox(outbox_path(db)) as outbox:
        assert outbox.enqueue_from(db, "kisumu-1") == 3 + 1 + 2
        assert outbox.enqueue_from(db, "kisumu-1") == 0  # a rescan adds nothing
        pending = outbox.pending(100)
    records = [{"id": p.record_id, "kind": p.kind, "sha256": p.sha256, "body": p.body} for p in pending]
    Draft202012Validator(schema()).validate({"records": records})
    assert all(body_sha256(item["body"]) == item["sha256"] for item in records)
    assert sorted(item["kind"] for item in records) == ["field"] * 3 + ["review"] * 2 + ["slide_call"]
    field_ids = {item["id"] for item in records if item["kind"] == "field"}
    assert {item["body"]["field_id"] for item in records if item["kind"] == "review"} - {None} <= field_ids


def test_a_cell_models_fields_carry_their_cells_number_scale_and_roles(tmp_path):
    """Protocol 2: what the results database recorded about each cell reaches the record as it is."""
    from edge_all.results.store import ResultsStore

    db = tmp_path / "results.db"
    record_cell_slide(db, "CELLS-1")
    with Outbox(outbox_path(db)) as outbox:
        outbox.enqueue_from(db, "kisumu-1")
        pending = outbox.pending(100)
    records = [{"id": p.record_id, "kind": p.kind, "sha256": p.sha256, "body": p.body} for p in pending]
    Draft202012Validator(schema()).validate({"records": records})
    first, second = (item["body"] for item in records if item["kind"] == "field")
    assert first["protocol"] == 2 and (first["field_number"], second["field_number"]) == (1, 2)
    assert first["session"]["label_roles"] == CELL_ROLES
    assert first["scale"] == {"um_per_px": 0.31, "source": "site"}
    assert second["scale"] == {"um_per_px": None, "source": None}  # unknown: sent as unknown
    with ResultsStore.open(db) as store:
        recorded = store.cells(first["capture_id"])
    assert [(c["box"], c["label"], c["status"]) for c in first["cells"]] == [
        ([c["x0"], c["y0"], c["x1"] - c["x0"], c["y1"] - c["y0"]], c["label"], c["status"]) for c in recorded
    ]
    assert [c["label"] for c in first["cells"]] == ["Pre", "Neutrophil", "Platelet"]
    assert first["cells"][2]["box"] == [150, 10, 10, 10] and first["cells"][2]["status"] == "dropped"
    assert first["cells"][0]["unfamiliarity"] == 0.4 and len(second["cells"]) == 1


def test_a_whole_field_models_fields_have_no_cells(tmp_path):
    db = tmp_path / "results.db"
    record_slide(db, "PBS-0002", 2)
    with Outbox(outbox_path(db)) as outbox:
        outbox.enqueue_from(db, "kisumu-1")
        bodies = [p.body for p in outbox.pending(100) if p.kind == "field"]
    assert [b["cells"] for b in bodies] == [None, None]
    assert all(b["session"]["label_roles"] is None for b in bodies)


def test_a_protocol_1_body_still_fits_and_a_protocol_2_body_must_say_what_it_adds():
    """An old clinic's records are still taken; a protocol 2 body without its new keys is refused."""
    validator = Draft202012Validator(schema())
    body = {
        "clinic": "kisumu-1", "sample_id": "S", "capture_id": 1, "frame_index": 0,
        "captured_at": "2026-03-02T08:00:00.000+00:00", "status": "classified", "label": "Pre",
        "confidence": 0.9, "probabilities": None, "quality": {}, "reason": None, "unfamiliarity": None,
        "image_sha256": None, "cells": [{"box": [1, 2, 3, 4], "label": "Pre", "confidence": 0.9}],
        "session": {"uid": "ab", "model": "m", "bundle_sha256": "5e" * 32, "labels": ["Benign", "Pre"],
                    "site_profile_sha256": None, "edge_all_version": "0.1",
                    "started_at": "2026-03-02T08:00:00Z", "source": "video"},
    }  # fmt: skip
    item = {"id": "6f1d7c2e-8a9b-4c53-9e0f-1a2b3c4d5e6f", "kind": "field", "sha256": "0" * 64}
    assert validator.is_valid({"records": [{**item, "body": body}]})
    assert not validator.is_valid({"records": [{**item, "body": {**body, "protocol": 2}}]})
