"""The devices' API against bad input, on a real hub process: each refusal has a clear status, is
logged and audited, and the hub keeps serving."""

from __future__ import annotations

import hashlib
import http.client
import json
import uuid

import pytest

from edge_all.accounts import audit
from edge_all.accounts.audit import SYSTEM
from edge_all.accounts.database import open_engine
from edge_all.accounts.devices import Devices
from edge_all.sync.protocol import MAX_BLOB_BYTES, MAX_RECORDS_BYTES, body_sha256, record
from tests.servers.hub import enrol_code, prepare, start_hub

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
PNG_SHA = hashlib.sha256(PNG).hexdigest()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    database = f"sqlite:///{tmp / 'hub.db'}"
    prepare(database, {"kisumu-1": "Kisumu", "eldoret-2": "Eldoret"})
    server = start_hub(tmp, database)
    server.database = database
    yield server
    server.stop()


def call(hub, method, path, body=b"", token=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=30)
    sent = {"Content-Length": str(len(body)), **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    connection.putrequest(method, "/api/v1" + path)
    for name, value in sent.items():
        connection.putheader(name, value)
    connection.endheaders()
    if body:
        connection.send(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def enrolled(hub, clinic="kisumu-1") -> str:
    status, data = call(
        hub, "POST", "/enrol", json.dumps({"code": enrol_code(hub.database, clinic)}).encode()
    )
    assert status == 201, data
    return json.loads(data)["token"]


def field(clinic="kisumu-1", sample="PBS-1", image=None, index=0) -> dict:
    body = {
        "clinic": clinic,
        "sample_id": sample,
        "session": {
            "uid": "ab" * 16,
            "model": "bundles/x",
            "bundle_sha256": "5e" * 32,
            "labels": ["Benign", "Pre"],
            "site_profile_sha256": None,
            "edge_all_version": "test",
            "started_at": "2026-03-02T08:00:00.000+00:00",
            "source": "video:x.avi",
        },
        "capture_id": index + 1,
        "frame_index": index,
        "captured_at": f"2026-03-02T08:00:{index:02d}.000+00:00",
        "status": "classified",
        "label": "Pre",
        "confidence": 0.9,
        "probabilities": {"Benign": 0.1, "Pre": 0.9},
        "quality": {"focus": 300.0},
        "reason": None,
        "unfamiliarity": 0.3,
        "image_sha256": image,
        "cells": [{"box": [10, 12, 40, 40], "label": "Pre", "confidence": 0.9}],
    }
    return record("field", str(uuid.uuid4()), body)


def post(hub, token, *records):
    status, data = call(hub, "POST", "/records", json.dumps({"records": list(records)}).encode(), token)
    return status, json.loads(data)


def test_a_record_is_stored_once_and_a_replay_with_other_content_is_refused(hub):
    token = enrolled(hub)
    item = field()
    assert post(hub, token, item)[1]["results"][0]["outcome"] == "stored"
    assert post(hub, token, item)[1]["results"][0]["outcome"] == "duplicate"
    replay = dict(item, body={**item["body"], "label": "Benign"})
    replay["sha256"] = body_sha256(replay["body"])
    (result,) = post(hub, token, replay)[1]["results"]
    assert (result["outcome"], result["status"]) == ("refused", 409) and "different content" in result["why"]


def test_another_clinics_record_and_a_wrong_sha256_are_refused(hub):
    token = enrolled(hub)
    foreign = field(clinic="eldoret-2")
    forged = field()
    forged["sha256"] = "0" * 64
    status, answer = post(hub, token, foreign, forged)
    assert status == 200
    assert [(r["outcome"], r["status"]) for r in answer["results"]] == [("refused", 403), ("refused", 422)]
    assert "writes for clinic kisumu-1" in answer["results"][0]["why"]


def test_a_field_waits_for_its_picture_and_a_picture_must_hash_to_its_name(hub):
    token = enrolled(hub)
    item = field(image=PNG_SHA, sample="PBS-PIC")
    (result,) = post(hub, token, item)[1]["results"]
    assert (result["status"], "picture has not been uploaded") == (409, result["why"][4:34]) or result[
        "status"
    ] == 409
    assert call(hub, "HEAD", f"/blobs/{PNG_SHA}", token=token)[0] == 404
    assert call(hub, "PUT", f"/blobs/{PNG_SHA}", PNG[:-10], token)[0] == 422  # cut off: never stored
    assert call(hub, "HEAD", f"/blobs/{PNG_SHA}", token=token)[0] == 404
    assert call(hub, "PUT", f"/blobs/{PNG_SHA}", PNG, token)[0] == 201
    assert call(hub, "PUT", f"/blobs/{PNG_SHA}", PNG, token)[0] == 200  # stored once
    assert call(hub, "HEAD", f"/blobs/{PNG_SHA}", token=token)[0] == 200
    assert post(hub, token, item)[1]["results"][0]["outcome"] == "stored"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not JSON"),
        (json.dumps({"records": []}).encode(), 400, "should be non-empty"),
        (
            json.dumps({"records": [{"id": "x", "kind": "field", "sha256": "0" * 64, "body": {}}]}).encode(),
            400,
            "records/0",
        ),
        (json.dumps({"records": [field()] * 101}).encode(), 400, "records: fails maxItems 100"),
    ],
)
def test_malformed_batches_are_refused_whole_with_where_and_why(hub, body, status, words):
    got, data = call(hub, "POST", "/records", body, enrolled(hub))
    assert got == status and words in json.loads(data)["error"]


def test_oversized_unsized_and_unauthenticated_requests_are_refused(hub):
    token = enrolled(hub)
    assert call(hub, "POST", "/records", b"", token, {"Content-Length": str(MAX_RECORDS_BYTES + 1)})[0] == 413
    assert (
        call(hub, "PUT", f"/blobs/{PNG_SHA}", b"", token, {"Content-Length": str(MAX_BLOB_BYTES + 1)})[0]
        == 413
    )
    assert call(hub, "POST", "/records", json.dumps({"records": [field()]}).encode())[0] == 401
    assert call(hub, "POST", "/records", b"{}", "not-a-token")[0] == 401
    assert call(hub, "HEAD", "/blobs/NOTAHASH", token=token)[0] == 400
    assert call(hub, "POST", "/enrol", json.dumps({"code": "guessed"}).encode())[0] == 403


def test_a_revoked_device_is_refused_and_the_hub_keeps_serving_and_logs_why(hub):
    token = enrolled(hub)
    status, data = call(hub, "GET", "/whoami", token=token)
    assert status == 200
    engine = open_engine(hub.database)
    Devices(engine).revoke(json.loads(data)["device"], SYSTEM)
    assert call(hub, "GET", "/whoami", token=token)[0] == 401
    assert call(hub, "GET", "/whoami", token=enrolled(hub))[0] == 200  # still serving everyone else
    log = hub.output()
    assert "refused POST /api/v1/records" in log and "401" in log and "413" in log
    refusals = audit.entries(engine, action="upload refused")
    assert {entry.detail["status"] for entry in refusals} >= {400, 413}
    engine.dispose()
