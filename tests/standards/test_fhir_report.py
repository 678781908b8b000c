"""The FHIR R4 DiagnosticReport says what the slide's record says, parses with fhir.resources, and
tells every reader it is a screening aid, not a diagnosis."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from edge_all.standards.errors import ExportError
from edge_all.standards.fhir_report import DISCLAIMER, fhir_report, report_identifier, report_json, validate
from edge_all.standards.records import Patient
from tests.standards.helpers import UIDS, make_slide


def contained(report: dict, resource_type: str) -> list[dict]:
    return [r for r in report["contained"] if r["resourceType"] == resource_type]


def test_a_signed_off_report_is_final_with_the_specialist_as_performer():
    slide = make_slide(3)
    report = fhir_report(slide, UIDS)
    assert report["status"] == "final"
    assert DISCLAIMER in report["text"]["div"] and report["conclusion"].startswith(DISCLAIMER)
    assert report["performer"][0]["display"] == "Dr Amani Mwangi"
    practitioner = contained(report, "Practitioner")[0]
    assert practitioner["identifier"][0]["value"] == "account-12"
    assert report["performer"][0]["reference"] == f"#{practitioner['id']}"
    assert "Blasts seen; refer to haematology" in report["conclusion"]
    assert report["identifier"][0]["value"] == slide.record_id
    assert report["identifier"][0]["system"] == report_identifier(slide, UIDS)[0]


def test_the_specimen_is_the_sample_and_the_observations_count_what_was_read():
    slide = make_slide(4)
    report = fhir_report(slide, UIDS)
    specimen = contained(report, "Specimen")[0]
    assert (
        specimen["identifier"][0]["value"] == "S-0042"
        and specimen["accessionIdentifier"]["value"] == "S-0042"
    )
    observations = {o["id"]: o for o in contained(report, "Observation")}
    assert [r["reference"] for r in report["result"]] == [f"#{name}" for name in observations]
    call = observations["screening-call"]["valueCodeableConcept"]
    assert call["coding"][0]["code"] == "REFER" and call["text"] == slide.call.reason
    fields = {
        c["code"]["coding"][0]["code"]: c["valueInteger"] for c in observations["field-counts"]["component"]
    }
    assert fields["FIELDSTOTAL"] == 4 and fields["FIELDSALLLIKE"] == slide.call.fields_all_like
    cells = {
        c["code"]["coding"][0]["code"]: c["valueInteger"] for c in observations["cell-counts"]["component"]
    }
    assert cells == {f"CELL-{label}": n for label, n in slide.cell_counts().items()}
    device = contained(report, "Device")[0]
    assert [i["value"] for i in device["identifier"]] == [
        slide.model.bundle_sha256,
        slide.model.site_profile_sha256,
    ]


def test_an_unsigned_report_is_preliminary_and_has_no_performer():
    report = fhir_report(make_slide(2, signed=False), UIDS)
    assert report["status"] == "preliminary" and "performer" not in report
    assert "not yet signed off" in report["conclusion"] and DISCLAIMER in report["text"]["div"]
    assert {o["status"] for o in contained(report, "Observation")} == {"preliminary"}


def test_no_patient_means_no_subject_and_a_given_one_is_carried():
    assert "subject" not in fhir_report(make_slide(1), UIDS)
    report = fhir_report(make_slide(1, patient=Patient("MRN-5531", "Amani Mwangi")), UIDS)
    patient = contained(report, "Patient")[0]
    assert report["subject"]["reference"] == "#patient" and patient["identifier"][0]["value"] == "MRN-5531"


def test_the_download_is_the_json_that_fhir_resources_parses():
    report = fhir_report(make_slide(2), UIDS)
    parsed = DiagnosticReport.model_validate_json(report_json(report))
    assert parsed.status == "final" and len(parsed.contained) == len(report["contained"])
    assert json.loads(report_json(report)) == report


def test_an_invalid_report_is_an_export_error_in_one_line():
    report = fhir_report(make_slide(1), UIDS)
    report["contained"][0]["colour"] = "blue"
    with pytest.raises(ExportError) as caught:
        validate(report)
    assert "not valid" in str(caught.value) and "\n" not in str(caught.value)
