"""Every instance of a slide reads back with pydicom as what the record says, and passes dciodvfy
(dicom3tools) with no errors; its warnings are only the kinds docs/standards.md explains."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import highdicom as hd
import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import generate_fragmented_frames

from edge_all.standards import dciodvfy
from edge_all.standards.dicom_image import VL_MICROSCOPIC, VL_SLIDE_COORDINATES
from edge_all.standards.dicom_slide import part10, slide_instances
from edge_all.standards.records import Patient
from tests.standards.helpers import UIDS, make_slide, sr_words

# The kinds of warning dciodvfy gives on our instances, each explained in docs/standards.md.
KNOWN_WARNINGS = [
    re.compile(r"Unrecognized defined term = <99EDGEALL>"),  # the private coding scheme, declared
    re.compile(
        r"</PatientID\(0010,0020\)> - Missing attribute or value that would be needed to build DICOMDIR"
    ),
]

VARIANTS = {
    "pixels": dict(),
    "jpeg": dict(as_jpeg=True),
    "stage": dict(stage=True),
    "unsigned": dict(signed=False),
    "patient": dict(patient=Patient("MRN-5531", "Mwangi^Amani")),
    "no-scale": dict(um_per_pixel=None),
    "amended": dict(sign_off_id="signoff-2", earlier_sign_offs=("signoff-1",)),
}


def read_back(ds):
    return dcmread(io.BytesIO(part10(ds)))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_instance_passes_dciodvfy_without_errors(dciodvfy, variant):
    slide = make_slide(2, **VARIANTS[variant])
    for ds in slide_instances(slide, UIDS).all:
        verdict = dciodvfy_verify(ds)
        assert verdict.errors == (), verdict.errors
        unknown = [w for w in verdict.warnings if not any(p.search(w) for p in KNOWN_WARNINGS)]
        assert unknown == [], unknown
        expected_iod = {
            "1.2.840.10008.5.1.4.1.1.77.1.2": "VLMicroscopicImage",
            "1.2.840.10008.5.1.4.1.1.77.1.3": "VLSlideCoordinatesMicroscopicImage",
            "1.2.840.10008.5.1.4.1.1.88.33": "ComprehensiveSR",
        }[ds.SOPClassUID]
        assert verdict.iod == expected_iod


def dciodvfy_verify(ds):
    return dciodvfy.verify(part10(ds))


def test_the_patient_module_is_present_and_empty_when_the_hospital_gave_no_patient():
    for ds in slide_instances(make_slide(1), UIDS).all:
        back = read_back(ds)
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
            assert keyword in back and back[keyword].value in ("", None)


def test_a_given_patient_is_carried_as_given():
    back = read_back(
        slide_instances(make_slide(1, patient=Patient("MRN-5531", "Mwangi^Amani")), UIDS).images[0]
    )
    assert back.PatientID == "MRN-5531" and str(back.PatientName) == "Mwangi^Amani"


def test_images_carry_the_sample_clinic_scale_and_model():
    slide = make_slide(3)
    images = slide_instances(slide, UIDS).images
    for field, ds in zip(slide.fields, images, strict=True):
        back = read_back(ds)
        assert back.SOPClassUID == VL_MICROSCOPIC and back.Modality == "GM"
        assert back.AccessionNumber == "S-0042" and back.ContainerIdentifier == "S-0042"
        assert back.SpecimenDescriptionSequence[0].SpecimenIdentifier == "S-0042"
        assert back.InstitutionName == "Clinique de Kolwezi"
        assert back.InstanceNumber == field.number
        assert [float(v) for v in back.PixelSpacing] == [0.00025, 0.00025]  # 0.25 µm in mm
        assert np.array_equal(back.pixel_array, field.picture)
        serials = [item.DeviceSerialNumber for item in back.ContributingEquipmentSequence]
        assert serials == [slide.model.bundle_sha256, slide.model.site_profile_sha256]
        assert "mobilenet_v2-all 1.3.0" in back.SoftwareVersions
    assert len({ds.SeriesInstanceUID for ds in images}) == 1


def test_an_unknown_scale_claims_no_pixel_spacing():
    back = read_back(slide_instances(make_slide(1, um_per_pixel=None), UIDS).images[0])
    assert "PixelSpacing" not in back


def test_a_jpeg_goes_in_as_it_was_captured():
    slide = make_slide(2, as_jpeg=True)
    for field, ds in zip(slide.fields, slide_instances(slide, UIDS).images, strict=True):
        back = read_back(ds)
        assert back.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
        assert back.PhotometricInterpretation == "YBR_FULL_422" and back.LossyImageCompression == "01"
        frame = b"".join(next(generate_fragmented_frames(back.PixelData, number_of_frames=1)))
        assert frame.rstrip(b"\x00") == field.picture.rstrip(b"\x00")  # the same bytes (padded to even)
        decoded = np.asarray(Image.open(io.BytesIO(field.picture)).convert("RGB"))
        assert np.abs(back.pixel_array.astype(int) - decoded.astype(int)).max() <= 2


def test_known_stage_positions_make_slide_coordinates_images():
    slide = make_slide(2, stage=True)
    for field, ds in zip(slide.fields, slide_instances(slide, UIDS).images, strict=True):
        back = read_back(ds)
        assert back.SOPClassUID == VL_SLIDE_COORDINATES and back.Modality == "SM"
        centre = back.ImageCenterPointCoordinatesSequence[0]
        assert float(centre.XOffsetInSlideCoordinateSystem) == pytest.approx(field.stage.x_mm)
        assert float(centre.YOffsetInSlideCoordinateSystem) == pytest.approx(field.stage.y_mm)
        assert back.FrameOfReferenceUID == UIDS.frame_of_reference(slide.record_id)


def test_building_twice_makes_the_same_instances():
    first, second = (slide_instances(make_slide(2), UIDS) for _ in range(2))
    assert [part10(a) for a in first.all] == [part10(b) for b in second.all]


def test_the_sr_holds_every_cell_the_call_and_the_sign_off():
    slide = make_slide(3)
    instances = slide_instances(slide, UIDS)
    sr = hd.sr.ComprehensiveSR.from_dataset(read_back(instances.sr))
    assert sr.VerificationFlag == "VERIFIED" and sr.CompletionFlag == "COMPLETE"
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName) == "Dr Amani Mwangi^"
    groups = sr.content.get_planar_roi_measurement_groups()
    cells = [(f, c) for f in slide.fields for c in f.cells]
    assert len(groups) == len(cells)
    by_image = {ds.SOPInstanceUID: ds for ds in instances.images}
    for group, (field, cell) in zip(groups, cells, strict=True):
        region = group.roi
        b = cell.box
        assert region.value.tolist() == [[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1], [b.x0, b.y0]]
        source = region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID  # SELECTED FROM
        assert by_image[source].InstanceNumber == field.number
        assert group.finding_type.meaning == cell.label
        assert group.get_measurements()[0].value == pytest.approx(cell.confidence)
    words = sr_words(sr)
    assert slide.call.reason in words and "Blasts seen; refer to haematology" in words
    assert "Specialist: refer" in words and "Refer: ALL-like cells seen" in words


def test_an_unsigned_slide_makes_an_unverified_sr_of_its_own():
    signed, unsigned = (slide_instances(make_slide(1, signed=s), UIDS).sr for s in (True, False))
    assert unsigned.VerificationFlag == "UNVERIFIED" and unsigned.CompletionFlag == "COMPLETE"
    assert unsigned.SOPInstanceUID != signed.SOPInstanceUID
    assert unsigned.SeriesInstanceUID == signed.SeriesInstanceUID


def test_a_second_signoff_makes_a_new_sr_in_the_same_series_naming_the_one_it_replaces():
    first = slide_instances(make_slide(2), UIDS).sr
    second = read_back(
        slide_instances(make_slide(2, sign_off_id="signoff-2", earlier_sign_offs=("signoff-1",)), UIDS).sr
    )
    assert second.SOPInstanceUID != first.SOPInstanceUID
    assert second.SeriesInstanceUID == first.SeriesInstanceUID and second.InstanceNumber == 2
    predecessor = second.PredecessorDocumentsSequence[0]
    assert predecessor.StudyInstanceUID == first.StudyInstanceUID
    assert predecessor.ReferencedSeriesSequence[0].SeriesInstanceUID == first.SeriesInstanceUID
    reference = predecessor.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert (reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID) == (
        first.SOPClassUID, first.SOPInstanceUID,
    )  # fmt: skip
    assert "PredecessorDocumentsSequence" not in first


def test_dropped_cells_are_in_the_sr_but_not_counted_as_white_cells():
    slide = make_slide(1)
    field = slide.fields[0]
    dropped = replace(
        field, cells=(*field.cells, replace(field.cells[0], label="Platelet", status="dropped"))
    )
    slide = replace(slide, fields=(dropped,))
    sr = hd.sr.ComprehensiveSR.from_dataset(read_back(slide_instances(slide, UIDS).sr))
    assert len(sr.content.get_planar_roi_measurement_groups()) == len(dropped.cells)
    assert "dropped" in sr_words(sr)
    assert "Platelet" not in slide.cell_counts()
