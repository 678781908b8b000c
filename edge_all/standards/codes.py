"""The coded concepts of edge-all's findings that no public terminology names: a private coding
scheme, `99EDGEALL` (DICOM PS3.3 8.2: designators starting "99" are local), declared in each
instance's Coding Scheme Identification Sequence. Standard codes (DCM, SCT, UCUM) are used
wherever one fits; the cell classes are the bundle's own labels, so they can only be local."""

from __future__ import annotations

import re

from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset

from edge_all.standards.records import Decision, Verdict

SCHEME = "99EDGEALL"


def local(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


def cell_class(label: str) -> CodedConcept:
    """A cell class of the bundle: the label as meaning, its upper-case letters and digits as code."""
    value = re.sub(r"[^A-Z0-9]", "", label.upper())[:16] or "CLASS"
    return local(value, label)


PROCEDURE = local("ALLSCREEN", "ALL screening aid on a peripheral blood smear")
SCREENING_CALL = local("SCREENCALL", "Screening call")
SCREENING_REASON = local("SCREENREASON", "Screening call reason")
SIGN_OFF = local("SIGNOFF", "Specialist sign-off")
CONFIDENCE = local("CONFIDENCE", "Model confidence")
TRIAGE = local("TRIAGE", "Triage status")
FIELDS_TOTAL = local("FIELDSTOTAL", "Fields read")
FIELDS_GOOD = local("FIELDSGOOD", "Good fields")
FIELDS_ALL_LIKE = local("FIELDSALLLIKE", "Fields with ALL-like cells")
FIELDS_REFERRED = local("FIELDSREFERRED", "Referred fields")
FIELDS_REJECTED = local("FIELDSREJECTED", "Rejected fields")

VERDICTS = {
    Verdict.REFER: local("REFER", "Refer: ALL-like cells seen"),
    Verdict.NO_ALL_LIKE: local("NOALLLIKE", "No ALL-like cells seen"),
    Verdict.INCONCLUSIVE: local("INCONCLUSIVE", "Inconclusive"),
}
DECISIONS = {
    Decision.REFER: local("SPECREFER", "Specialist: refer"),
    Decision.NO_ALL_LIKE: local("SPECNOALLLIKE", "Specialist: no ALL-like cells"),
    Decision.INCONCLUSIVE: local("SPECINCONCL", "Specialist: inconclusive"),
}


def triage_status(status: str) -> CodedConcept:
    return local(re.sub(r"[^A-Z0-9]", "", status.upper())[:16] or "STATUS", status)


def scheme_identification() -> list[Dataset]:
    """The Coding Scheme Identification Sequence item that declares 99EDGEALL."""
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "edge-all local codes"
    item.CodingSchemeResponsibleOrganization = "edge-all"
    return [item]
