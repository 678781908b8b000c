"""docs/schemas/sync.schema.json is the schema the hub checks, and what the clinic sends fits it."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from edge_all.sync.outbox import Outbox, outbox_path
from edge_all.sync.protocol import body_sha256, schema

from .conftest import record_slide

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
