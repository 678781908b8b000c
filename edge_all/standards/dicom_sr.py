"""The slide's findings as a DICOM Comprehensive SR: a TID 1500 Measurement Report built with highdicom.

Why TID 1500: it is the template pathology and radiology viewers read for "what an algorithm found
where" (one planar ROI group per cell: its box as a POLYLINE on its field's image, its class as the
finding type, its confidence as a measurement, its triage status as a qualitative evaluation, the
model as TID 4019 algorithm identification). Why not Microscopy Bulk Simple Annotations: they carry
shapes and numbers only, not the screening call or the specialist's sign-off, so an SR would be
needed anyway, and a PACS viewer shows an SR as text.

A second sign-off makes a new SR in the same series (a new SOP Instance UID, the next instance
number) whose Predecessor Documents Sequence names the SR it replaces: DICOM's way of amending.

The slide's screening call and the specialist's sign-off are two TID 1501 measurement groups (coded
verdict and decision, counted fields); their free text (the call's reason, the specialist's comment)
is one TEXT item each, which TID 1501 does not list (it is documented in docs/standards.md). The
sign-off is also what DICOM calls verification: VERIFIED, by the specialist, at the sign-off time.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from edge_all.standards import codes
from edge_all.standards.dicom_header import MANUFACTURER, da, dt, person_name, shared_attributes, tm
from edge_all.standards.records import FieldExport, SlideExport
from edge_all.standards.uids import UidScheme

SR_SERIES_NUMBER = 2
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
UNSIGNED = "unsigned"  # the sign-off id of an SR made on request before any sign-off
NO_UNITS = dcm_codes.UCUM.NoUnits
FIELDS_UNIT = hd.sr.CodedConcept("{fields}", "UCUM", "fields")


def algorithm(slide: SlideExport) -> hd.sr.AlgorithmIdentification:
    parameters = [f"bundle sha256 {slide.model.bundle_sha256}"]
    if slide.model.site_profile_sha256 is not None:
        parameters.append(f"site profile sha256 {slide.model.site_profile_sha256}")
    return hd.sr.AlgorithmIdentification(
        name=slide.model.name, version=slide.model.version, parameters=parameters, manufacturer=MANUFACTURER
    )


def _cell_groups(
    slide: SlideExport, field: FieldExport, image: Dataset, uids: UidScheme
) -> list[hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations]:
    source = hd.sr.SourceImageForRegion(image.SOPClassUID, image.SOPInstanceUID)
    groups = []
    for index, cell in enumerate(field.cells, start=1):
        b = cell.box
        # The box's outline in image coordinates: (0, 0) is the top-left corner of the first pixel,
        # so the exclusive x1, y1 are exactly the far corners.
        outline = np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1], [b.x0, b.y0]], float)
        groups.append(
            hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=uids.tracking(slide.record_id, field.record_id, index),
                    identifier=f"field {field.number} cell {index}",
                ),
                referenced_region=hd.sr.ImageRegion(
                    graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=outline, source_image=source
                ),
                finding_type=codes.cell_class(cell.label),
                algorithm_id=algorithm(slide),
                measurements=[hd.sr.Measurement(name=codes.CONFIDENCE, value=cell.confidence, unit=NO_UNITS)],
                qualitative_evaluations=[
                    hd.sr.QualitativeEvaluation(name=codes.TRIAGE, value=codes.triage_status(cell.status))
                ],
            )
        )
    return groups


def _add_text(group: hd.sr.MeasurementsAndQualitativeEvaluations, name, text: str) -> None:
    if text:
        group[0].ContentSequence.append(
            hd.sr.TextContentItem(
                name=name, value=text, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
            )
        )


def _call_group(slide: SlideExport, uids: UidScheme) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    call = slide.call
    counts = [
        (codes.FIELDS_TOTAL, call.fields_total),
        (codes.FIELDS_GOOD, call.fields_good),
        (codes.FIELDS_ALL_LIKE, call.fields_all_like),
        (codes.FIELDS_REFERRED, call.fields_referred),
        (codes.FIELDS_REJECTED, call.fields_rejected),
    ]
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uids.uid("screening-call", slide.record_id), identifier="screening call"
        ),
        algorithm_id=algorithm(slide),
        measurements=[hd.sr.Measurement(name=n, value=float(v), unit=FIELDS_UNIT) for n, v in counts],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=codes.SCREENING_CALL, value=codes.VERDICTS[call.verdict])
        ],
    )
    _add_text(group, codes.SCREENING_REASON, call.reason)
    return group


def _sign_off_group(slide: SlideExport, uids: UidScheme) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    sign_off = slide.sign_off
    assert sign_off is not None
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uids.uid("sign-off", slide.record_id, sign_off.record_id), identifier="specialist sign-off"
        ),
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=codes.SIGN_OFF, value=codes.DECISIONS[sign_off.decision])
        ],
    )
    _add_text(group, dcm_codes.DCM.Comment, sign_off.comment)
    return group


def _observers(slide: SlideExport, uids: UidScheme) -> hd.sr.ObservationContext:
    device = hd.sr.ObserverContext(
        observer_type=dcm_codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=uids.device(),
            name=slide.model.name,
            manufacturer_name=MANUFACTURER,
            model_name=f"{slide.model.name} {slide.model.version}"[:64],
        ),
    )
    person = None
    if slide.sign_off is not None:
        person = hd.sr.ObserverContext(
            observer_type=dcm_codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=person_name(slide.sign_off.by_name),
                login_name=slide.sign_off.by_id,
                organization_name=slide.clinic,
            ),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def _predecessor(slide: SlideExport, uids: UidScheme) -> Dataset:
    """The SR of the sign-off this one replaces (its UIDs are deterministic, so known without it):
    what highdicom's previous_versions needs for the Predecessor Documents Sequence."""
    earlier = Dataset()
    earlier.SOPClassUID = COMPREHENSIVE_SR
    earlier.SOPInstanceUID = uids.sr(slide.record_id, slide.earlier_sign_offs[-1])
    earlier.StudyInstanceUID = uids.study(slide.record_id)
    earlier.SeriesInstanceUID = uids.sr_series(slide.record_id)
    return earlier


def sr_instance(slide: SlideExport, images: list[Dataset], uids: UidScheme) -> Dataset:
    """The SR of the slide's findings over its field images (`images`, as `field_instance` made them)."""
    by_uid = {image.SOPInstanceUID: image for image in images}
    groups: list = []
    for field in sorted(slide.fields, key=lambda f: f.number):
        image = by_uid[uids.image(slide.record_id, field.record_id)]
        groups.extend(_cell_groups(slide, field, image, uids))
    groups.append(_call_group(slide, uids))
    if slide.sign_off is not None:
        groups.append(_sign_off_group(slide, uids))
    report = hd.sr.MeasurementReport(
        observation_context=_observers(slide, uids),
        procedure_reported=codes.PROCEDURE,
        imaging_measurements=groups,
        referenced_images=images,
    )
    sign_off = slide.sign_off
    signed = sign_off is not None
    sr = hd.sr.ComprehensiveSR(
        previous_versions=[_predecessor(slide, uids)] if slide.amended else None,
        evidence=images,
        content=report,
        series_instance_uid=uids.sr_series(slide.record_id),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=uids.sr(slide.record_id, sign_off.record_id if sign_off else UNSIGNED),
        instance_number=1 + len(slide.earlier_sign_offs),
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=signed,
        is_verified=signed,
        institution_name=slide.clinic[:64],
        verifying_observer_name=person_name(sign_off.by_name) if sign_off else None,
        verifying_organization=slide.clinic[:64] if sign_off else None,
        series_description=f"Findings on {slide.sample_id}"[:64],
    )
    shared_attributes(sr, slide, uids)
    # Dated by the record, not by the moment of building, so the same record makes the same SR.
    when = sign_off.at if sign_off else slide.started_at
    sr.ContentDate, sr.ContentTime = da(when), tm(when)
    sr.SeriesDate, sr.SeriesTime = da(when), tm(when)
    sr.InstanceCreationDate, sr.InstanceCreationTime = da(when), tm(when)
    if sign_off is not None:
        sr.VerifyingObserverSequence[0].VerificationDateTime = dt(sign_off.at)
        observer_id = Dataset()
        observer_id.CodeValue = sign_off.by_id[:16]
        observer_id.CodingSchemeDesignator = codes.SCHEME
        observer_id.CodeMeaning = sign_off.by_name[:64]
        sr.VerifyingObserverSequence[0].VerifyingObserverIdentificationCodeSequence = [observer_id]
    return sr
