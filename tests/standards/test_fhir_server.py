"""Sending the report by conditional update (created if absent, amended if there), against Medplum's
FHIR R4 engine started here (tests/standards/fhir_engine: Medplum's request router, conditional update
and R4 validator over its in-memory repository, behind a small HTTP shim; not a production FHIR server,
docs/standards.md)."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import requests

from edge_all.standards.delivery import State
from edge_all.standards.endpoints import Endpoint
from edge_all.standards.fhir_report import fhir_report, report_identifier, report_json
from edge_all.standards.fhir_send import FhirSender
from edge_all.standards.records import Decision, Patient
from tests.servers.standards import free_port
from tests.standards.helpers import UIDS, make_slide


def reports_with(engine, system: str, value: str) -> list[dict]:
    found = requests.get(
        f"{engine.base}/DiagnosticReport", params={"identifier": f"{system}|{value}"}, timeout=10
    )
    return [e["resource"] for e in found.json().get("entry", [])]


def test_sending_twice_makes_one_report(fhir_engine):
    slide = make_slide(3, record_id="slide-fhir-twice")
    sender = FhirSender(Endpoint(fhir_engine.base, timeout_s=10))
    payload = report_json(fhir_report(slide, UIDS))
    first, second = sender.send(payload), sender.send(payload)
    assert first.state is State.SENT and first.detail.startswith("created /fhir/R4/DiagnosticReport/")
    assert second.state is State.SENT and second.detail.startswith("updated DiagnosticReport/")
    stored = reports_with(fhir_engine, *report_identifier(slide, UIDS))
    assert len(stored) == 1
    assert stored[0]["status"] == "final" and stored[0]["performer"][0]["display"] == "Dr Amani Mwangi"
    assert len(stored[0]["contained"]) == len(json.loads(payload)["contained"])


def history(engine, report_id: str) -> list[dict]:
    found = requests.get(f"{engine.base}/DiagnosticReport/{report_id}/_history", timeout=10).json()
    return [e["resource"] for e in found["entry"]]


def test_a_second_signoff_amends_the_one_report_with_its_history(fhir_engine):
    first = make_slide(2, record_id="slide-fhir-amended", sign_off_id="signoff-1")
    sender = FhirSender(Endpoint(fhir_engine.base, timeout_s=10))
    assert sender.send(report_json(fhir_report(first, UIDS))).detail.startswith("created")
    second = replace(
        first,
        sign_off=replace(first.sign_off, record_id="signoff-2", decision=Decision.INCONCLUSIVE,
                         comment="smear too thick on review"),
        earlier_sign_offs=("signoff-1",),
    )  # fmt: skip
    amended = fhir_report(second, UIDS)
    assert amended["status"] == "amended" and all(
        o["status"] == "amended" for o in amended["contained"] if o["resourceType"] == "Observation"
    )
    outcome = sender.send(report_json(amended))
    assert outcome.state is State.SENT and outcome.detail.endswith("(amended)"), outcome
    assert sender.send(report_json(amended)).state is State.SENT  # sent twice: still one report
    stored = reports_with(fhir_engine, *report_identifier(first, UIDS))
    assert len(stored) == 1
    assert stored[0]["status"] == "amended" and "Specialist: inconclusive" in stored[0]["conclusion"]
    versions = history(fhir_engine, stored[0]["id"])
    assert [v["status"] for v in versions] == ["amended", "amended", "final"]  # newest first
    assert "Specialist: refer" in versions[-1]["conclusion"]


def test_the_engine_validates_every_kind_of_report_against_r4(fhir_engine):
    """Medplum validates against R4 4.0.1's StructureDefinitions: what fhir.resources checked as R4B."""
    sender = FhirSender(Endpoint(fhir_engine.base, timeout_s=10))
    kinds = [
        make_slide(2, record_id="kind-signed"),
        make_slide(2, record_id="kind-unsigned", signed=False),
        make_slide(2, record_id="kind-patient", patient=Patient("MRN-1", "Amani Mwangi")),
    ]
    for slide in kinds:
        outcome = sender.send(report_json(fhir_report(slide, UIDS)))
        assert outcome.state is State.SENT and outcome.detail.startswith("created"), outcome


def test_a_report_the_server_refuses_is_refused_with_its_reason(fhir_engine):
    report = fhir_report(make_slide(1, record_id="slide-refused"), UIDS)
    report["contained"][0]["colour"] = "blue"  # not an element of Specimen
    outcome = FhirSender(Endpoint(fhir_engine.base, timeout_s=10)).send(json.dumps(report).encode())
    assert (
        outcome.state is State.REFUSED
        and outcome.detail.startswith("HTTP 400")
        and "colour" in outcome.detail
    )


def test_an_absent_server_leaves_the_report_pending_at_once():
    sender = FhirSender(Endpoint(f"http://127.0.0.1:{free_port()}/fhir/R4", timeout_s=5))
    started = time.monotonic()
    outcome = sender.send(report_json(fhir_report(make_slide(1), UIDS)))
    assert outcome.state is State.PENDING and "cannot reach" in outcome.detail
    assert time.monotonic() - started < 5
