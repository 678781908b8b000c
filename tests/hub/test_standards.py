"""The hub's side of DICOM and FHIR, on SQLite and on a real PostgreSQL (as the serving role): the
adapter from the hub's records to SlideExport, the settings file, export requests built, queued,
tried and retried, every step in the audit. (The browser and the real PACS: test_standards_browser.)"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import uuid

import numpy as np
import pytest
from PIL import Image

from edge_all.accounts import audit
from edge_all.accounts.audit import SYSTEM
from edge_all.accounts.database import open_engine
from edge_all.accounts.people import Accounts
from edge_all.errors import UsageError
from edge_all.hub import migrate
from edge_all.hub.blobs import DiskBlobs
from edge_all.hub.standards_export import slide_export
from edge_all.hub.standards_outbox import HubStandards, installation_id
from edge_all.hub.standards_settings import StandardsSettings, load
from edge_all.hub.storage import HubStore
from edge_all.standards.delivery import State
from edge_all.standards.dicom_slide import slide_instances
from edge_all.standards.endpoints import Endpoint
from edge_all.standards.fhir_report import fhir_report
from edge_all.standards.outbox import Backoff
from edge_all.standards.records import Decision, Verdict
from edge_all.sync.protocol import record
from tests.servers.required import free_port

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
        migrate.upgrade(engine)
        yield engine
    else:
        cluster = request.getfixturevalue("postgres")
        owner_url, app_url = cluster.new_database(f"standards_{next(_names)}")
        owner = open_engine(owner_url)
        migrate.upgrade(owner)
        migrate.grant(owner, "hub_app")
        owner.dispose()
        engine = open_engine(app_url)  # the serving role: what the hub runs as
        yield engine
    engine.dispose()


@pytest.fixture
def hub(engine, tmp_path):
    accounts = Accounts(engine)
    accounts.add_clinic("kisumu-1", "Kisumu clinic", SYSTEM)
    ada = accounts.add_person("ada", "Dr Ada", "specialist", "p" * 12, ("kisumu-1",), SYSTEM)
    return HubStore(engine), accounts, DiskBlobs(tmp_path / "pictures"), ada


def picture(kind: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind, **({"quality": 90} if kind == "JPEG" else {}))
    return buffer.getvalue()


def put_field(
    store, blobs, sample: str, at: int, data: bytes | None, cells=None, label="Pre", protocol2=None
) -> dict:
    """A field record as a clinic sends it: protocol 1, or protocol 2 with `protocol2`'s keys
    (field_number, scale, label_roles) merged in."""
    sha = None
    if data is not None:
        sha = hashlib.sha256(data).hexdigest()
        blobs.put(sha, data)
        store.add_blob(sha, len(data), Image.open(io.BytesIO(data)).size)
    body = {
        "clinic": "kisumu-1", "sample_id": sample,
        "session": {"uid": "ab" * 16, "model": "bundles/mobilenet-all/", "bundle_sha256": "5e" * 32,
                    "labels": ["Benign", "Pre"], "site_profile_sha256": "c0" * 32, "edge_all_version": "test",
                    "started_at": "2026-03-02T08:00:00.000+00:00", "source": "video:x.avi"},
        "capture_id": at + 1, "frame_index": at, "captured_at": f"2026-03-02T08:00:{at:02d}.000+00:00",
        "status": "classified", "label": label, "confidence": 0.9, "probabilities": None, "quality": {},
        "reason": None, "unfamiliarity": None, "image_sha256": sha, "cells": cells,
    }  # fmt: skip
    if protocol2 is not None:
        extra = dict(protocol2)
        body["session"]["label_roles"] = extra.pop("label_roles", None)
        body.update({"protocol": 2, "field_number": at + 1, **extra})
        body["session"]["labels"] = list(body["session"]["label_roles"] or ["Benign", "Pre"])
    item = record("field", str(uuid.uuid4()), body)
    assert store.ingest(1, "kisumu-1", item).outcome == "stored"
    return item


def put_call(store, sample: str, fields: int) -> None:
    body = {
        "clinic": "kisumu-1", "sample_id": sample, "verdict": "refer",
        "call": f"refer: ALL-like cells in 1 of {fields} fields",
        "counts": {"fields": fields, "good": fields, "all_like": 1, "uncertain": 0, "referred": 0,
                   "rejected": 0, "errors": 0},
        "first_captured_at": "2026-03-02T08:00:00.000+00:00",
        "last_captured_at": "2026-03-02T08:00:02.000+00:00",
    }  # fmt: skip
    assert store.ingest(1, "kisumu-1", record("slide_call", str(uuid.uuid4()), body)).outcome == "stored"


def a_slide(hub, sample="K-1", patient=("MRN-778812", "Wanjiru^Achieng")) -> dict:
    store, _, blobs, ada = hub
    cells = [{"box": [10.5, 5, 20, 21.2], "label": "Pre", "confidence": 0.88},
             {"box": [70, 50, 30, 30], "label": "Benign", "confidence": 0.7}]  # fmt: skip
    put_field(store, blobs, sample, 0, picture("PNG", 1), cells)
    put_field(store, blobs, sample, 1, picture("JPEG", 2), label="Benign")
    put_field(store, blobs, sample, 2, None, label="Benign")  # the clinic kept no picture
    put_call(store, sample, 3)
    (slide,) = [s for s in store.worklist(ada, "all") if s["sample_id"] == sample]
    store.add_review(slide["id"], ada, "refer", "blasts", field_id=None, signoff=True, client="10.0.0.2",
                     patient=patient)  # fmt: skip
    return store.slide(slide["id"])


def test_the_adapter_maps_the_hubs_records_onto_a_slide_export(hub):
    store, _, blobs, _ = hub
    slide = a_slide(hub)
    export = slide_export(store, blobs, slide["id"], "Kisumu clinic")
    assert export.sample_id == "K-1" and export.clinic == "Kisumu clinic" and export.clinic_id == "kisumu-1"
    assert [f.number for f in export.fields] == [1, 2]  # the field without a picture is not in the PACS
    png, jpeg = export.fields
    assert isinstance(png.picture, np.ndarray)
    assert np.array_equal(png.picture, np.asarray(Image.open(io.BytesIO(picture("PNG", 1))).convert("RGB")))
    assert jpeg.picture == picture("JPEG", 2)  # as captured: no second lossy step
    assert [(c.box.x0, c.box.y0, c.box.x1, c.box.y1, c.label) for c in png.cells] == [
        (10, 5, 31, 27, "Pre"),
        (70, 50, 80, 60, "Benign"),  # clipped to the 80x60 picture
    ]
    assert {c.status for c in png.cells} == {"classified"}  # the field's status: none is sent per cell
    assert png.um_per_pixel is None and png.stage is None  # not sent by the clinic: not claimed
    assert export.model.name == "mobilenet-all" and export.model.bundle_sha256 == "5e" * 32
    assert export.model.site_profile_sha256 == "c0" * 32
    assert export.call.verdict is Verdict.REFER and export.call.fields_total == 3
    assert export.sign_off.decision is Decision.REFER and export.sign_off.by_name == "Dr Ada"
    assert export.sign_off.by_id == "ada" and export.sign_off.comment == "blasts"
    assert export.patient.id == "MRN-778812" and export.patient.name == "Wanjiru^Achieng"
    instances = slide_instances(export, HubStandards(*_parts(hub)).uids)
    assert instances.images[0].PatientID == "MRN-778812" and instances.sr.VerificationFlag == "VERIFIED"
    assert (
        store.signoffs_for("kisumu-1", 0)[0].keys().isdisjoint({"payload", "patient_id"})
    )  # not to the clinic


ROLES = {"Early": "all_like", "Pre": "all_like", "Neutrophil": "not_all_like", "Platelet": "not_a_white_cell"}


def test_protocol_2_cells_scale_and_roles_reach_the_export_and_the_flags(hub):
    store, _, blobs, ada = hub
    cells = [
        {"box": [10, 5, 20, 22], "label": "Pre", "confidence": 0.88, "status": "all-like", "reason": None,
         "unfamiliarity": 0.4},
        {"box": [40, 30, 12, 12], "label": "Platelet", "confidence": 0.97, "status": "dropped",
         "reason": None, "unfamiliarity": None},
    ]  # fmt: skip
    scale = {"um_per_px": 0.31, "source": "site"}
    p2 = {"label_roles": ROLES, "scale": scale}
    put_field(store, blobs, "P2-1", 0, picture("PNG", 7), cells, label="Pre", protocol2=p2)
    put_field(store, blobs, "P2-1", 1, picture("PNG", 8), [], label="Neutrophil",
              protocol2={**p2, "scale": {"um_per_px": None, "source": None}})  # fmt: skip
    put_field(store, blobs, "P2-2", 0, picture("PNG", 9), [], label="Neutrophil", protocol2=p2)
    slides = {s["sample_id"]: s for s in store.worklist(ada, "all")}
    # Neutrophil is not ALL-like for this cell model: the old "not Benign" rule would have flagged it.
    assert slides["P2-1"]["flagged"] and not slides["P2-2"]["flagged"]
    flagged = store.fields(slides["P2-1"]["id"], flagged=True)
    assert [f["label"] for f in flagged] == ["Pre"]
    first, second = store.fields(slides["P2-1"]["id"])
    assert (first["field_number"], first["um_per_px"], first["scale_source"]) == (1, 0.31, "site")
    assert first["frame_size"] == (80, 60) and second["cells"] == []
    assert [(c["x0"], c["y0"], c["x1"], c["y1"], c["status"]) for c in first["cells"]] == [
        (10, 5, 30, 27, "all-like"), (40, 30, 52, 42, "dropped"),
    ]  # fmt: skip
    export = slide_export(store, blobs, slides["P2-1"]["id"], "Kisumu clinic")
    assert [f.um_per_pixel for f in export.fields] == [0.31, None]  # unknown: no Pixel Spacing claimed
    assert [(c.label, c.status) for c in export.fields[0].cells] == [
        ("Pre", "all-like"),
        ("Platelet", "dropped"),
    ]
    assert export.cell_counts() == {"Pre": 1}  # a platelet is not a white cell
    images = slide_instances(export, HubStandards(*_parts(hub)).uids).images
    assert [float(v) for v in images[0].PixelSpacing] == [0.00031, 0.00031] and "PixelSpacing" not in images[
        1
    ]


def test_a_second_signoff_amends_the_report_and_makes_a_new_sr(hub):
    store, _, blobs, ada = hub
    slide = a_slide(hub, "K-9")
    uids = HubStandards(*_parts(hub)).uids
    first = slide_export(store, blobs, slide["id"], "Kisumu clinic")
    assert first.earlier_sign_offs == () and fhir_report(first, uids)["status"] == "final"
    store.add_review(slide["id"], ada, "inconclusive", "thick smear", field_id=None, signoff=True,
                     client="10.0.0.2")  # fmt: skip
    second = slide_export(store, blobs, slide["id"], "Kisumu clinic")
    assert second.earlier_sign_offs == (first.sign_off.record_id,)
    assert second.sign_off.decision is Decision.INCONCLUSIVE and second.amended
    assert second.patient == first.patient  # typed at the first sign-off only: kept, not dropped
    assert fhir_report(second, uids)["status"] == "amended"
    old_sr, new_sr = (slide_instances(e, uids).sr for e in (first, second))
    assert new_sr.SOPInstanceUID != old_sr.SOPInstanceUID
    assert new_sr.SeriesInstanceUID == old_sr.SeriesInstanceUID and new_sr.InstanceNumber == 2
    reference = new_sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert reference.ReferencedSOPInstanceUID == old_sr.SOPInstanceUID


def test_no_patient_is_invented_and_an_unsigned_slide_exports_unsigned(hub):
    store, _, blobs, ada = hub
    slide = a_slide(hub, "K-2", patient=None)
    export = slide_export(store, blobs, slide["id"], "Kisumu clinic")
    assert export.patient is None
    uids = HubStandards(*_parts(hub)).uids
    assert slide_instances(export, uids).images[0].PatientID == ""
    assert "subject" not in fhir_report(export, uids)
    put_field(store, blobs, "K-3", 0, picture("PNG", 3))
    (unsigned,) = [s for s in store.worklist(ada) if s["sample_id"] == "K-3"]
    export = slide_export(store, blobs, unsigned["id"], "Kisumu clinic")
    assert export.sign_off is None and export.call.verdict is Verdict.INCONCLUSIVE  # no call arrived yet


def _parts(hub, settings: StandardsSettings | None = None):
    store, accounts, blobs, _ = hub
    settings = settings or StandardsSettings()
    return store.engine, store, accounts, blobs, settings


def test_the_installation_id_is_made_once_and_names_every_uid(hub, engine):
    first = installation_id(engine)
    migrate.upgrade(engine) if engine.dialect.name == "sqlite" else None  # again: nothing changes
    assert installation_id(engine) == first and uuid.UUID(first)
    assert HubStandards(*_parts(hub)).uids.hub_id == first


def test_a_request_is_built_queued_tried_retried_and_every_step_audited(hub):
    store, _, _, ada = hub
    absent = Endpoint(f"http://127.0.0.1:{free_port()}/dicom-web", timeout_s=2)
    settings = StandardsSettings(pacs=absent, backoff=Backoff(first_s=60))
    standards = HubStandards(*_parts(hub, settings))
    slide = a_slide(hub)
    assert standards.request(slide, ada.actor, "sign-off", "10.0.0.2") is not None
    assert standards.latest_request(slide["id"]).built_at is None
    assert standards.build_requested() == 1 and standards.build_requested() == 0  # built once
    assert standards.latest_request(slide["id"]).error is None
    queued = standards.for_slide(slide["id"])
    assert [d.description for d in queued] == ["field 1", "field 2", "SR of findings"]  # no FHIR configured
    (sender,) = standards.senders
    assert standards.send(sender) == 0  # the PACS is down: the pass stops at the first failure
    first = standards.for_slide(slide["id"])[0]
    assert first.state is State.PENDING and first.detail.startswith("cannot reach the PACS")
    assert standards.retry(slide, first.id, ada.actor, "10.0.0.2")
    actions = [e.action for e in audit.entries(store.engine, subject="slide kisumu-1/K-1")]
    assert actions[:4] == ["send to PACS again", "to PACS: will try again", "export built",
                           "export to PACS and FHIR requested"]  # fmt: skip
    assert "sign-off" in actions


def test_a_slide_that_cannot_be_exported_says_why_and_the_others_go_on(hub):
    store, _, blobs, ada = hub
    settings = StandardsSettings(pacs=Endpoint(f"http://127.0.0.1:{free_port()}/dicom-web"))
    standards = HubStandards(*_parts(hub, settings))
    bad = a_slide(hub, "K-" + "9" * 20)  # longer than DICOM's 16-character accession number
    good = a_slide(hub, "K-4")
    for slide in (bad, good):
        standards.request(slide, ada.actor, "on request")
    assert standards.build_requested() == 2
    assert "sample id is longer than 16" in standards.latest_request(bad["id"]).error
    assert standards.for_slide(bad["id"]) == [] and len(standards.for_slide(good["id"])) == 3
    (entry,) = audit.entries(store.engine, action="export refused")
    assert "longer than 16" in entry.detail["error"]


def test_no_destination_configured_queues_nothing(hub):
    _, _, _, ada = hub
    standards = HubStandards(*_parts(hub))
    assert standards.request(a_slide(hub), ada.actor, "sign-off") is None


def test_the_settings_file(tmp_path):
    path = tmp_path / "standards.json"
    settings = {"pacs": {"url": "http://pacs:8042/dicom-web", "username": "hub", "password": "secret"},
                "fhir": {"url": "https://fhir.example/fhir/R4", "timeout_s": 10},
                "outbox": {"interval_s": 1, "backoff_first_s": 2, "backoff_most_s": 60}}  # fmt: skip
    path.write_text(json.dumps(settings))
    path.chmod(0o644)
    with pytest.raises(UsageError, match=f"{path}: holds a password or token but others may read it"):
        load(path)
    path.chmod(0o600)
    loaded = load(path)
    assert loaded.pacs.auth() == ("hub", "secret") and loaded.fhir.timeout_s == 10
    assert loaded.interval_s == 1 and loaded.backoff.first_s == 2 and loaded.backoff.most_s == 60
    for broken, message in (
        ({"pacs": {"url": "ftp://x"}}, "pacs: endpoint URL must be http"),
        ({"pacs": {"url": "http://x", "user": "a"}}, "pacs: unknown keys: user"),
        ({"pacs": {}}, "missing key pacs.url"),
        ({"worklist": {}}, "unknown sections: worklist"),
        ({"outbox": {"interval_s": 0}}, "times must be positive"),
    ):
        path.write_text(json.dumps(broken))
        with pytest.raises(UsageError, match=message):
            load(path)
