"""The outbox toward the PACS and the FHIR server: nothing silently dropped, nothing sent twice, and a
PACS that refuses, is silent or is absent blocks nothing else (real Orthanc, real sockets, SQLite)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from datetime import timedelta
from io import BytesIO

import pytest
from pydicom import dcmread
from sqlalchemy import create_engine

from edge_all.standards.delivery import Destination, State
from edge_all.standards.delivery_sql import SqlDeliveryStore
from edge_all.standards.endpoints import Endpoint
from edge_all.standards.fhir_send import FhirSender
from edge_all.standards.outbox import Backoff, queue_slide, send_due
from edge_all.standards.pacs import StowSender
from edge_all.standards.records import Decision
from tests.servers.standards import REFUSED_ACCESSION, free_port
from tests.standards.helpers import START, UIDS, make_slide


@pytest.fixture
def store(tmp_path):
    return SqlDeliveryStore(create_engine(f"sqlite:///{tmp_path / 'outbox.db'}"))


def pacs(orthanc, timeout_s: float = 30) -> StowSender:
    return StowSender(Endpoint(orthanc.dicomweb, *orthanc.auth, timeout_s=timeout_s))


@pytest.fixture
def silent_server():
    """A real TCP listener that takes connections and never answers (a hung PACS)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_slide_is_queued_once_per_instance_and_report(store):
    slide = make_slide(3)
    queued = queue_slide(store, slide, UIDS, START)
    assert [d.description for d in queued] == [
        "field 1",
        "field 2",
        "field 3",
        "SR of findings",
        "FHIR DiagnosticReport",
    ]
    assert {d.state for d in queued} == {State.PENDING}
    queue_slide(store, slide, UIDS, START + timedelta(minutes=5))
    assert len(store.for_slide(slide.record_id)) == 5


def test_an_absent_pacs_leaves_everything_pending_and_backs_off(store):
    slide = make_slide(3)
    queue_slide(store, slide, UIDS, START, fhir=False)
    absent = StowSender(Endpoint(f"http://127.0.0.1:{free_port()}/dicom-web", timeout_s=5))
    backoff = Backoff(first_s=30, factor=2, most_s=3600)
    attempts = send_due(store, absent, START, backoff=backoff)
    assert len(attempts) == 1 and attempts[0].outcome.state is State.PENDING  # one try tells it is down
    assert "cannot reach the PACS" in attempts[0].outcome.detail
    first = store.for_slide(slide.record_id)[0]
    assert first.attempts == 1 and first.next_attempt_at == START + timedelta(seconds=30)
    assert first.detail.startswith("cannot reach")
    assert len(store.due(Destination.PACS, START + timedelta(seconds=10), 100)) == 3  # the others: still due
    again = send_due(store, absent, START + timedelta(seconds=31), backoff=backoff)
    assert [a.delivery.description for a in again] == ["field 2"]  # the longest-waiting goes first
    assert [d.attempts for d in store.for_slide(slide.record_id)] == [1, 1, 0, 0]
    assert {d.state for d in store.for_slide(slide.record_id)} == {State.PENDING}  # nothing dropped


def test_the_backoff_doubles_up_to_its_limit():
    backoff = Backoff(first_s=30, factor=2, most_s=3600)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_a_pacs_that_comes_back_gets_what_waited(store, orthanc):
    slide = make_slide(2, record_id="slide-comes-back", sample_id="BACK-1")
    queue_slide(store, slide, UIDS, START, fhir=False)
    send_due(store, StowSender(Endpoint(f"http://127.0.0.1:{free_port()}/dicom-web", timeout_s=5)), START)
    later = START + timedelta(hours=2)
    attempts = send_due(store, pacs(orthanc), later)
    assert [a.outcome.state for a in attempts] == [State.SENT] * 3
    assert [d.attempts for d in store.for_slide(slide.record_id)] == [2, 1, 1]


def test_a_silent_pacs_costs_one_time_out_and_does_not_hold_the_fhir_queue(store, silent_server, fhir_engine):
    slide = make_slide(3, record_id="slide-silent")
    queue_slide(store, slide, UIDS, START)
    done = {}

    def pacs_pass():
        started = time.monotonic()
        done["pacs"] = send_due(store, StowSender(Endpoint(f"{silent_server}/dicom-web", timeout_s=2)), START)
        done["pacs_s"] = time.monotonic() - started

    worker = threading.Thread(target=pacs_pass)
    worker.start()
    fhir = send_due(store, FhirSender(Endpoint(fhir_engine.base, timeout_s=10)), START)
    fhir_finished_while_pacs_hung = worker.is_alive()
    worker.join(timeout=30)
    assert [a.outcome.state for a in fhir] == [State.SENT]
    assert fhir_finished_while_pacs_hung
    assert len(done["pacs"]) == 1 and done["pacs"][0].outcome.detail == "no answer within 2 s"
    assert 1.5 < done["pacs_s"] < 10  # one time-out for the pass, not one per instance
    states = {d.description: d.state for d in store.for_slide(slide.record_id)}
    assert states["FHIR DiagnosticReport"] is State.SENT and states["field 1"] is State.PENDING


def test_what_orthanc_refuses_is_refused_with_its_reason_and_retried_on_request(store, orthanc):
    slide = make_slide(1, record_id="slide-refused", sample_id=REFUSED_ACCESSION)  # Orthanc's filter drops it
    queue_slide(store, slide, UIDS, START, fhir=False)
    broken = dcmread(BytesIO(store.payload(store.for_slide(slide.record_id)[0].id)))
    del broken.StudyInstanceUID  # Orthanc cannot file this one (failure reason 0xC000)
    buffer = BytesIO()
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = "2.25.4242"
    broken.save_as(buffer, enforce_file_format=False)
    store.add(slide.record_id, Destination.PACS, "2.25.4242", "broken field", buffer.getvalue(), START)

    attempts = send_due(store, pacs(orthanc), START)
    details = {a.delivery.description: a.outcome for a in attempts}
    assert {o.state for o in details.values()} == {State.REFUSED}
    assert "does not have it" in details["field 1"].detail  # said "stored", but its filter dropped it
    assert details["broken field"].detail == "HTTP 400: failure reason 0xC000 (cannot understand)"
    assert store.due(Destination.PACS, START + timedelta(days=30), 100) == []  # refused waits for a person
    broken_row = next(d for d in store.for_slide(slide.record_id) if d.key == "2.25.4242")
    store.retry(broken_row.id, START + timedelta(hours=1))
    assert [d.key for d in store.due(Destination.PACS, START + timedelta(hours=1), 100)] == ["2.25.4242"]


def test_a_new_sign_off_sends_a_new_sr_and_not_the_images_again(store, orthanc):
    slide = make_slide(2, record_id="slide-resigned", sample_id="RESIGN-1")
    queue_slide(store, slide, UIDS, START, fhir=False)
    send_due(store, pacs(orthanc), START)
    amended = dataclasses.replace(
        slide,
        sign_off=dataclasses.replace(slide.sign_off, record_id="signoff-2", decision=Decision.INCONCLUSIVE),
    )
    queue_slide(store, amended, UIDS, START + timedelta(days=1), fhir=False)
    due = store.due(Destination.PACS, START + timedelta(days=1), 100)
    assert [d.key for d in due] == [UIDS.sr(slide.record_id, "signoff-2")]
    assert [a.outcome.state for a in send_due(store, pacs(orthanc), START + timedelta(days=1))] == [
        State.SENT
    ]
