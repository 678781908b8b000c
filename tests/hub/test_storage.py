"""The hub's storage on SQLite and on a real PostgreSQL (as the application's role): the worklist's
order and visibility, sign-offs beside the model's result, append-only records, audited retention."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from edge_all.accounts import audit
from edge_all.accounts.audit import SYSTEM
from edge_all.accounts.database import open_engine
from edge_all.accounts.people import Accounts
from edge_all.hub import migrate
from edge_all.hub.blobs import DiskBlobs
from edge_all.hub.storage import HubStore
from edge_all.sync.protocol import record

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
        migrate.upgrade(engine)
        engine.owner = engine
        yield engine
    else:
        cluster = request.getfixturevalue("postgres")
        owner_url, app_url = cluster.new_database(f"storage_{next(_names)}")
        owner = open_engine(owner_url)
        migrate.upgrade(owner)
        migrate.grant(owner, "hub_app")
        engine = open_engine(app_url)
        engine.owner = owner  # retention runs as the owner
        yield engine
        owner.dispose()
    engine.dispose()


@pytest.fixture
def hub(engine):
    accounts = Accounts(engine)
    for clinic in ("kisumu-1", "eldoret-2", "nakuru-3"):
        accounts.add_clinic(clinic, clinic.title(), SYSTEM)
    people = {
        "ada": accounts.add_person(
            "ada", "Dr Ada", "specialist", "p" * 12, ("kisumu-1", "eldoret-2"), SYSTEM
        ),
        "tom": accounts.add_person("tom", "Tom", "technician", "p" * 12, ("nakuru-3",), SYSTEM),
        "root": accounts.add_person("root", "Root", "administrator", "p" * 12, (), SYSTEM),
    }
    return HubStore(engine), people


def field(clinic: str, sample: str, label: str = "Benign", status: str = "classified", at: int = 0) -> dict:
    body = {
        "clinic": clinic,
        "sample_id": sample,
        "session": {
            "uid": "ab" * 16,
            "model": "bundles/x",
            "bundle_sha256": "5e" * 32,
            "labels": ["Benign", "Pre"],
            "site_profile_sha256": "c0" * 32,
            "edge_all_version": "test",
            "started_at": "2026-03-02T08:00:00.000+00:00",
            "source": "video:x.avi",
        },
        "capture_id": at + 1,
        "frame_index": at,
        "captured_at": f"2026-03-02T08:00:{at:02d}.000+00:00",
        "status": status,
        "label": label,
        "confidence": 0.9,
        "probabilities": None,
        "quality": {},
        "reason": None,
        "unfamiliarity": None,
        "image_sha256": None,
        "cells": None,
    }
    return record("field", str(uuid.uuid4()), body)


def test_the_worklist_puts_flagged_slides_first_then_the_oldest_and_shows_only_ones_clinics(hub):
    store, people = hub
    store.ingest(1, "kisumu-1", field("kisumu-1", "K-OLD"))
    store.ingest(1, "kisumu-1", field("kisumu-1", "K-FLAGGED", "Pre"))
    store.ingest(2, "eldoret-2", field("eldoret-2", "E-1", "Benign", "referred"))
    store.ingest(3, "nakuru-3", field("nakuru-3", "N-1"))
    order = [slide["sample_id"] for slide in store.worklist(people["ada"])]
    assert order == ["K-FLAGGED", "E-1", "K-OLD"]
    assert [slide["sample_id"] for slide in store.worklist(people["tom"])] == ["N-1"]
    assert len(store.worklist(people["root"])) == 4


def test_a_signoff_stands_beside_the_model_result_and_later_fields_mark_the_slide_changed(hub):
    store, people = hub
    store.ingest(1, "kisumu-1", field("kisumu-1", "K-1", "Pre"))
    (slide,) = store.worklist(people["ada"])
    store.add_review(slide["id"], people["ada"], "no ALL-like cells", "artefact", field_id=None, signoff=True,
                     client="10.0.0.2")  # fmt: skip
    assert store.worklist(people["ada"]) == [] and len(store.worklist(people["ada"], "signed")) == 1
    (model,) = store.fields(slide["id"])
    assert model["label"] == "Pre"  # the model's result, unchanged
    store.ingest(1, "kisumu-1", field("kisumu-1", "K-1", at=1))
    (slide,) = store.worklist(people["ada"])
    assert slide["changed"]
    (entry,) = audit.entries(store.engine, action="sign-off")
    assert (
        entry.actor == "person:ada" and entry.client == "10.0.0.2" and entry.subject == "slide kisumu-1/K-1"
    )
    signoffs = store.signoffs_for("kisumu-1", 0)
    assert [s["decision"] for s in signoffs] == ["no ALL-like cells"] and store.signoffs_for(
        "eldoret-2", 0
    ) == []


def with_cells(item: dict) -> dict:
    """The record as a protocol 2 clinic sends it, with two cells."""
    body = {**item["body"], "protocol": 2, "field_number": 1, "scale": {"um_per_px": 0.3, "source": "given"},
            "cells": [{"box": [1, 2, 3, 4], "label": "Pre", "confidence": 0.9, "status": "all-like",
                       "reason": None, "unfamiliarity": None},
                      {"box": [9, 9, 5, 5], "label": "Benign", "confidence": 0.8, "status": "cleared",
                       "reason": None, "unfamiliarity": 0.2}]}  # fmt: skip
    return record("field", item["id"], body)


def test_the_application_cannot_change_or_delete_records_or_reviews(hub):
    store, people = hub
    store.ingest(1, "kisumu-1", with_cells(field("kisumu-1", "K-1", "Pre")))
    (slide,) = store.worklist(people["ada"])
    store.add_review(slide["id"], people["ada"], "refer", None, field_id=None, signoff=True, client="x")
    for statement in (
        "UPDATE fields SET label = 'Benign'",
        "DELETE FROM fields",
        "UPDATE cells SET label = 'Benign'",
        "DELETE FROM cells",
        "UPDATE reviews SET decision = 'no ALL-like cells'",
        "DELETE FROM reviews",
        "DELETE FROM audit",
    ):
        with pytest.raises(DBAPIError), store.engine.begin() as connection:
            connection.execute(text(statement))
    assert store.fields(slide["id"])[0]["label"] == "Pre"
    assert [c["label"] for c in store.fields(slide["id"])[0]["cells"]] == ["Pre", "Benign"]
    assert store.reviews(slide["id"])[0]["decision"] == "refer"


def test_retention_purges_old_slides_audits_each_and_keeps_shared_pictures(hub, tmp_path):
    store, people = hub
    blob_store = DiskBlobs(tmp_path / "pictures")
    import hashlib

    data = b"\x89PNG shared"
    sha = hashlib.sha256(data).hexdigest()
    blob_store.put(sha, data)
    store.add_blob(sha, len(data))
    for sample in ("OLD-1", "NEW-1"):
        item = field("kisumu-1", sample)
        item["body"]["image_sha256"] = sha
        item = with_cells(record("field", item["id"], item["body"]))
        assert store.ingest(1, "kisumu-1", item).outcome == "stored"
    (old,) = [s for s in store.worklist(people["ada"]) if s["sample_id"] == "OLD-1"]
    store.add_review(old["id"], people["ada"], "refer", None, field_id=None, signoff=True, client="x")
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE slides SET last_received_at = '2020-01-01' WHERE sample_id = 'OLD-1'")
        )
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="permission denied"):
            store.purge("2025-01-01", SYSTEM, blob_store)  # the serving role cannot delete history
    store = HubStore(store.engine.owner)  # retention runs as the owner
    assert store.purge("2025-01-01", SYSTEM, blob_store) == ["kisumu-1/OLD-1"]
    assert [s["sample_id"] for s in store.worklist(people["ada"], "all")] == ["NEW-1"]
    assert blob_store.has(sha)  # still the picture of NEW-1
    with store.engine.connect() as connection:  # the old slide's cells went with it, the new one's stay
        assert connection.execute(text("SELECT COUNT(*) FROM cells")).scalar_one() == 2
    (entry,) = audit.entries(store.engine, action="retention purge")
    assert entry.subject == "slide kisumu-1/OLD-1"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_h003_adds_to_a_hub_at_h002_and_keeps_what_it_held(kind, request, tmp_path):
    """The add-only migration on a hub that already holds a protocol 1 field: the row reads as it was
    (no number, no scale, no cells, flagged by the old Benign rule), and protocol 2 fields go in beside."""
    from edge_all.accounts import migrate as accounts_migrate

    if kind == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path / 'old-hub.db'}")
    else:
        engine = open_engine(request.getfixturevalue("postgres").new_database(f"h002_{next(_names)}")[0])
    accounts_migrate.upgrade(engine, extra_versions=[migrate.VERSIONS], target="h002")
    Accounts(engine).add_clinic("kisumu-1", "Kisumu", SYSTEM)
    old = field("kisumu-1", "OLD", "Pre")
    payload = json.dumps(old["body"], sort_keys=True)
    with engine.begin() as connection:  # what an h002 hub stored (its columns only)
        connection.execute(
            text(
                "INSERT INTO slides (clinic_id, sample_id, first_received_at, last_received_at, flagged) "
                "VALUES ('kisumu-1', 'OLD', '2026-03-02T08:00:00Z', '2026-03-02T08:00:00Z', true)"
            )
        )
        connection.execute(text(
            "INSERT INTO fields (record_id, record_sha256, slide_id, device_id, received_at, captured_at, "
            "frame_index, status, label, model, bundle_sha256, payload) VALUES (:rid, :sha, 1, 1, "
            "'2026-03-02T08:00:00Z', '2026-03-02T08:00:00Z', 0, 'classified', 'Pre', 'm', :bundle, :payload)"
        ), {"rid": old["id"], "sha": old["sha256"], "bundle": "5e" * 32, "payload": payload})  # fmt: skip
    assert migrate.pending(engine) == ["h003"]
    migrate.upgrade(engine)
    assert migrate.pending(engine) == []
    store = HubStore(engine)
    (kept,) = store.fields(1, flagged=True)  # Pre is not Benign: flagged as before
    assert (kept["record_id"], kept["field_number"], kept["um_per_px"], kept["cells"]) == (
        old["id"], None, None, None,
    )  # fmt: skip
    assert (
        store.ingest(1, "kisumu-1", with_cells(field("kisumu-1", "OLD", "Benign", at=1))).outcome == "stored"
    )
    assert [len(f["cells"] or []) for f in store.fields(1)] == [0, 2]
    engine.dispose()
