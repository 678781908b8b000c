"""The slide's result as an HL7 FHIR R4 DiagnosticReport: the screening call, the field counts and
the cells per class as Observations, the smear as the Specimen (the sample id as its identifier and
accession), the signing specialist as performer and results interpreter, the model as the device.

One resource, the others contained in it: so that one conditional update (PUT on the report's
identifier) makes exactly one report, atomically, on any FHIR server, and a later sign-off amends
that same report (status amended, the server keeping its history); a transaction Bundle
with standalone Observations is the step to take when the record wants to search them on their own.
Its narrative says "Screening aid, not a diagnosis.", and so does its conclusion.

Checked with fhir.resources' R4B models (4.3.0; the last R4 4.0.1 release, 6.4, needs pydantic 1,
which cannot live beside the rest of edge-all): only elements that R4 and R4B share are used, and
the tests also validate the JSON against R4 4.0.1's own definitions on a FHIR engine (docs/standards.md).
"""

from __future__ import annotations

import html
import json
import uuid
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from edge_all.standards.errors import ExportError
from edge_all.standards.records import ALL_LIKE, SlideExport
from edge_all.standards.uids import EDGE_ALL_NAMESPACE, UidScheme

DISCLAIMER = "Screening aid, not a diagnosis."
CODE_SYSTEM = f"urn:uuid:{EDGE_ALL_NAMESPACE}"  # edge-all's local codes (the DICOM 99EDGEALL scheme)
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _fixed_system(what: str) -> str:
    """The identifier system of one kind of edge-all's own values (bundle and profile digests)."""
    return f"urn:uuid:{uuid.uuid5(EDGE_ALL_NAMESPACE, f'fhir/{what}')}"


def _system(uids: UidScheme, what: str) -> str:
    """The identifier system of one kind of the hub's ids: a URN that no other hub shares."""
    return f"urn:uuid:{uuid.uuid5(uids.namespace, f'fhir/{what}')}"


def report_identifier(slide: SlideExport, uids: UidScheme) -> tuple[str, str]:
    """(system, value) of the report: the key of its conditional create."""
    return _system(uids, "slide"), slide.record_id


def _concept(code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": CODE_SYSTEM, "code": code, "display": display}], "text": text or display}


def _integer_component(code: str, display: str, value: int) -> dict[str, Any]:
    return {"code": _concept(code, display), "valueInteger": value}


def _narrative(slide: SlideExport) -> dict[str, str]:
    call = slide.call
    lines = [
        f"<p><b>{html.escape(DISCLAIMER)}</b></p>",
        f"<p>Sample {html.escape(slide.sample_id)} from {html.escape(slide.clinic)}.</p>",
        f"<p>Screening call: {html.escape(call.verdict.value)} ({html.escape(call.reason)}).</p>",
    ]
    if slide.sign_off is not None:
        s = slide.sign_off
        comment = f": {html.escape(s.comment)}" if s.comment else ""
        lines.append(
            f"<p>Signed off by {html.escape(s.by_name)}: {html.escape(s.decision.value)}{comment}</p>"
        )
        if slide.amended:
            number = len(slide.earlier_sign_offs) + 1
            lines.append(f"<p>Amended: sign-off {number} of this slide replaces the earlier.</p>")
    else:
        lines.append("<p>Not yet signed off by a specialist.</p>")
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{"".join(lines)}</div>'}


def _observations(slide: SlideExport, status: str) -> list[dict[str, Any]]:
    call = slide.call
    common = {"resourceType": "Observation", "status": status, "specimen": {"reference": "#specimen"}}
    common["category"] = [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}]
    common["device"] = {"reference": "#model"}
    common["effectiveDateTime"] = slide.started_at.isoformat()
    screening = {
        **common,
        "id": "screening-call",
        "code": _concept("SCREENCALL", "Screening call"),
        "valueCodeableConcept": _concept(call.verdict.name, call.verdict.value, call.reason),
        "note": [{"text": DISCLAIMER}],
    }
    fields = {
        **common,
        "id": "field-counts",
        "code": _concept("FIELDCOUNTS", "Fields of view counted"),
        "component": [
            _integer_component("FIELDSTOTAL", "Fields read", call.fields_total),
            _integer_component("FIELDSGOOD", "Good fields", call.fields_good),
            _integer_component("FIELDSALLLIKE", "Fields with ALL-like cells", call.fields_all_like),
            _integer_component("FIELDSREFERRED", "Referred fields", call.fields_referred),
            _integer_component("FIELDSREJECTED", "Rejected fields", call.fields_rejected),
        ],
    }
    counts = slide.cell_counts()
    cells = {
        **common,
        "id": "cell-counts",
        "code": _concept("CELLCOUNTS", "White cells by class"),
        "component": [
            _integer_component(
                f"CELL-{label}", f"{label} cells" + (" (ALL-like)" if label in ALL_LIKE else ""), n
            )
            for label, n in counts.items()
        ],
    }
    if not counts:
        cells["valueInteger"] = 0  # no cells: say zero rather than leave an empty observation
    return [screening, fields, cells]


def _contained(slide: SlideExport, uids: UidScheme, status: str) -> list[dict[str, Any]]:
    model = slide.model
    device = {
        "resourceType": "Device",
        "id": "model",
        "deviceName": [{"name": model.name, "type": "model-name"}],
        "version": [{"value": model.version}],
        "identifier": [{"system": _fixed_system("bundle-sha256"), "value": model.bundle_sha256}],
    }
    if model.site_profile_sha256 is not None:
        device["identifier"].append(
            {"system": _fixed_system("site-profile-sha256"), "value": model.site_profile_sha256}
        )
    specimen = {
        "resourceType": "Specimen",
        "id": "specimen",
        "identifier": [{"system": _system(uids, "sample"), "value": slide.sample_id}],
        "accessionIdentifier": {"system": _system(uids, "sample"), "value": slide.sample_id},
        "type": {"text": "Peripheral blood smear"},
        "collection": {"collectedDateTime": slide.started_at.isoformat()},
        "note": [{"text": f"Smear read at {slide.clinic}"}],
    }
    contained: list[dict[str, Any]] = [specimen, device]
    if slide.patient is not None:
        patient = {
            "resourceType": "Patient",
            "id": "patient",
            "identifier": [{"system": _system(uids, "patient"), "value": slide.patient.id}],
        }
        if slide.patient.name:
            patient["name"] = [{"text": slide.patient.name}]
        contained.append(patient)
        specimen["subject"] = {"reference": "#patient"}
    if slide.sign_off is not None:
        contained.append(
            {
                "resourceType": "Practitioner",
                "id": "specialist",
                "identifier": [{"system": _system(uids, "account"), "value": slide.sign_off.by_id}],
                "name": [{"text": slide.sign_off.by_name}],
            }
        )
    return contained + _observations(slide, status)


def report_status(slide: SlideExport) -> str:
    """preliminary before a sign-off, final at the first, amended at every one after it."""
    if slide.sign_off is None:
        return "preliminary"
    return "amended" if slide.amended else "final"


def fhir_report(slide: SlideExport, uids: UidScheme) -> dict[str, Any]:
    """The DiagnosticReport as a JSON-ready dict, checked by fhir.resources (ExportError if not valid)."""
    sign_off = slide.sign_off
    status = report_status(slide)
    system, value = report_identifier(slide, uids)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "text": _narrative(slide),
        "contained": _contained(slide, uids, status),
        "identifier": [{"system": system, "value": value}],
        "status": status,
        "category": [{"coding": [{"system": V2_0074, "code": "HM", "display": "Hematology"}]}],
        "code": _concept("ALLSCREEN", "ALL screening aid on a peripheral blood smear"),
        "effectiveDateTime": slide.started_at.isoformat(),
        "issued": (sign_off.at if sign_off else slide.started_at).isoformat(),
        "specimen": [{"reference": "#specimen", "display": f"Sample {slide.sample_id}"}],
        "result": [{"reference": f"#{o}"} for o in ("screening-call", "field-counts", "cell-counts")],
    }
    if slide.patient is not None:
        report["subject"] = {"reference": "#patient"}
    if sign_off is not None:
        specialist = {"reference": "#specialist", "display": sign_off.by_name}
        report["performer"] = [specialist]
        report["resultsInterpreter"] = [specialist]
        comment = f" {sign_off.comment}" if sign_off.comment else ""
        report["conclusion"] = f"{DISCLAIMER} Specialist: {sign_off.decision.value}.{comment}"
        report["conclusionCode"] = [
            _concept(f"SPEC-{sign_off.decision.name}", f"Specialist: {sign_off.decision.value}")
        ]
    else:
        report["conclusion"] = f"{DISCLAIMER} Screening call: {slide.call.verdict.value}; not yet signed off."
    validate(report)
    return report


def validate(report: dict[str, Any]) -> None:
    """Parse with fhir.resources (R4B models); a failure is a bug or a bad record, named in one line."""
    try:
        DiagnosticReport.model_validate(report)
    except ValueError as error:
        first = str(error).splitlines()
        raise ExportError(f"the FHIR DiagnosticReport is not valid: {' '.join(first[:3])}") from None


def report_json(report: dict[str, Any]) -> bytes:
    """The report as the file the hub offers for download and the outbox sends."""
    return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
