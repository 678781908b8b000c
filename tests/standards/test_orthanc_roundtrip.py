"""A signed-off slide through a real Orthanc and back: queued, sent over STOW-RS by the outbox, found
with QIDO-RS by its accession number, retrieved with WADO-RS, and compared with the hub's record."""

from __future__ import annotations

import io

import highdicom as hd
import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.encaps import generate_fragmented_frames
from requests import Session
from sqlalchemy import create_engine

from edge_all.standards.delivery import Destination, State
from edge_all.standards.delivery_sql import SqlDeliveryStore
from edge_all.standards.endpoints import Endpoint
from edge_all.standards.outbox import queue_slide, send_due
from edge_all.standards.pacs import StowSender
from tests.standards.helpers import START, UIDS, make_slide, sr_words


def client(orthanc) -> DICOMwebClient:
    session = Session()
    session.auth = orthanc.auth
    return DICOMwebClient(orthanc.dicomweb, session=session)


def send(orthanc, slide, store=None):
    store = store or SqlDeliveryStore(create_engine("sqlite://"))
    queue_slide(store, slide, UIDS, START, fhir=False)
    attempts = send_due(store, StowSender(Endpoint(orthanc.dicomweb, *orthanc.auth, timeout_s=30)), START)
    return store, attempts


@pytest.mark.parametrize("variant", ["pixels-on-stage", "jpeg"])
def test_a_signed_off_slide_reads_back_through_dicomweb_as_recorded(orthanc, variant):
    jpeg = variant == "jpeg"
    slide = make_slide(
        4, as_jpeg=jpeg, stage=not jpeg, sample_id=f"RT-{variant[:5]}", record_id=f"rt-{variant}"
    )
    store, attempts = send(orthanc, slide)
    assert [a.outcome.state for a in attempts] == [State.SENT] * 5
    assert {d.state for d in store.for_slide(slide.record_id)} == {State.SENT}

    web = client(orthanc)
    studies = web.search_for_studies(search_filters={"AccessionNumber": slide.sample_id})
    assert len(studies) == 1
    study_uid = studies[0]["0020000D"]["Value"][0]
    assert study_uid == UIDS.study(slide.record_id)
    modalities = sorted(s["00080060"]["Value"][0] for s in web.search_for_series(study_uid))
    assert modalities == sorted(["GM" if jpeg else "SM", "SR"])

    images = {}
    for field in slide.fields:
        uid = UIDS.image(slide.record_id, field.record_id)
        ds = web.retrieve_instance(study_uid, UIDS.image_series(slide.record_id), uid)
        images[uid] = ds
        assert ds.AccessionNumber == slide.sample_id and ds.ContainerIdentifier == slide.sample_id
        assert ds.SpecimenDescriptionSequence[0].SpecimenIdentifier == slide.sample_id
        assert ds.InstitutionName == slide.clinic and ds.InstanceNumber == field.number
        assert [float(v) for v in ds.PixelSpacing] == [field.um_per_pixel / 1000] * 2
        assert ds.ContributingEquipmentSequence[0].DeviceSerialNumber == slide.model.bundle_sha256
        if jpeg:
            assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
            assert ds.Rows == 240 and ds.Columns == 320  # pixels: decoded and compared in the next test
        else:
            assert np.array_equal(ds.pixel_array, field.picture)
            centre = ds.ImageCenterPointCoordinatesSequence[0]
            assert float(centre.XOffsetInSlideCoordinateSystem) == pytest.approx(field.stage.x_mm)

    sr_uid = UIDS.sr(slide.record_id, slide.sign_off.record_id)
    sr = hd.sr.ComprehensiveSR.from_dataset(
        web.retrieve_instance(study_uid, UIDS.sr_series(slide.record_id), sr_uid)
    )
    assert sr.VerificationFlag == "VERIFIED"
    groups = sr.content.get_planar_roi_measurement_groups()
    cells = [(f, c) for f in slide.fields for c in f.cells]
    assert len(groups) == len(cells)
    for group, (field, cell) in zip(groups, cells, strict=True):
        source = group.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        assert images[source].InstanceNumber == field.number
        assert group.roi.value[2].tolist() == [cell.box.x1, cell.box.y1]
        assert group.finding_type.meaning == cell.label
    words = sr_words(sr)
    assert slide.call.reason in words and slide.sign_off.comment in words and "Specialist: refer" in words


def test_jpeg_pixels_come_back_as_captured(orthanc):
    slide = make_slide(1, as_jpeg=True, sample_id="RT-JPEG-PX", record_id="rt-jpeg-px")
    send(orthanc, slide)
    field = slide.fields[0]
    ds = client(orthanc).retrieve_instance(
        UIDS.study(slide.record_id),
        UIDS.image_series(slide.record_id),
        UIDS.image(slide.record_id, field.record_id),
    )
    frame = b"".join(next(generate_fragmented_frames(ds.PixelData, number_of_frames=1)))
    assert frame.rstrip(b"\x00") == field.picture.rstrip(b"\x00")  # the clinic's JPEG, byte for byte
    decoded = np.asarray(Image.open(io.BytesIO(field.picture)).convert("RGB"))
    assert np.abs(ds.pixel_array.astype(int) - decoded.astype(int)).max() <= 2  # and its pixels


def test_sending_a_slide_again_makes_no_new_instances(orthanc):
    slide = make_slide(3, sample_id="RT-AGAIN", record_id="rt-again")
    store, _ = send(orthanc, slide)
    before = orthanc.rest("/statistics")["CountInstances"]
    queue_slide(store, slide, UIDS, START, fhir=False)  # the same record: nothing is pending again
    assert store.due(Destination.PACS, START, 100) == []
    _, attempts = send(orthanc, slide)  # a fresh outbox sends all five again: Orthanc keeps one of each
    assert [a.outcome.state for a in attempts] == [State.SENT] * 4
    assert orthanc.rest("/statistics")["CountInstances"] == before


def test_a_second_signoff_sends_only_a_new_sr_that_names_the_first(orthanc):
    first = make_slide(2, sample_id="RT-AMEND", record_id="rt-amend", sign_off_id="signoff-1")
    store, _ = send(orthanc, first)
    second = make_slide(
        2,
        sample_id="RT-AMEND",
        record_id="rt-amend",
        sign_off_id="signoff-2",
        earlier_sign_offs=("signoff-1",),
    )
    queue_slide(store, second, UIDS, START, fhir=False)
    due = store.due(Destination.PACS, START, 100)
    assert [d.description for d in due] == ["SR of findings, sign-off 2 (a new instance; amends the earlier)"]
    attempts = send_due(store, StowSender(Endpoint(orthanc.dicomweb, *orthanc.auth, timeout_s=30)), START)
    assert [a.outcome.state for a in attempts] == [State.SENT]

    web = client(orthanc)
    study, sr_series = UIDS.study(first.record_id), UIDS.sr_series(first.record_id)
    found = web.search_for_instances(study, sr_series)
    assert sorted(i["00080018"]["Value"][0] for i in found) == sorted(
        UIDS.sr(first.record_id, s) for s in ("signoff-1", "signoff-2")
    )
    back = web.retrieve_instance(study, sr_series, UIDS.sr(first.record_id, "signoff-2"))
    reference = back.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert reference.ReferencedSOPInstanceUID == UIDS.sr(first.record_id, "signoff-1")
    assert back.InstanceNumber == 2 and back.VerificationFlag == "VERIFIED"
