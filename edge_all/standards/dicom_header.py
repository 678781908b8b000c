"""The attributes every instance of a slide shares, images and SR alike: patient, study, equipment.

One place, so that the PACS files the images and their SR in one study of one (possibly unknown)
patient. Type 2 attributes the product cannot know (patient name, id, birth date, sex, referring
physician) are present and empty, which is how DICOM says "unknown" (PS3.5 7.4).
"""

from __future__ import annotations

from datetime import datetime

from pydicom.dataset import Dataset

import edge_all
from edge_all.standards import codes
from edge_all.standards.records import SlideExport
from edge_all.standards.uids import UidScheme

MANUFACTURER = "edge-all"
STUDY_DESCRIPTION = "ALL screening aid, peripheral blood smear"


def da(when: datetime) -> str:
    return when.strftime("%Y%m%d")


def tm(when: datetime) -> str:
    return when.strftime("%H%M%S.%f")


def dt(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S.%f%z")


def tz_offset(when: datetime) -> str:
    return when.strftime("%z")


def person_name(display: str) -> str:
    """A DICOM PN from the name the hub shows: kept as it is when it has components (Family^Given),
    else the whole display name as one component with the caret that says so (PS3.5 6.2.1.2)."""
    return display if "^" in display else f"{display}^"


def software_versions(slide: SlideExport) -> list[str]:
    """edge-all's version and the model's, each within LO's 64 characters."""
    return [f"edge-all {edge_all.__version__}", f"{slide.model.name} {slide.model.version}"[:64]]


def contributing_equipment(slide: SlideExport) -> list[Dataset]:
    """The model bundle, and the site profile it read with, as processing equipment: the sha256 of
    each (exactly 64 hex digits, LO's limit) as its Device Serial Number, so a reader can name the
    exact bundle and profile that made the findings."""
    items = []
    parts = [(slide.model.name, slide.model.version, slide.model.bundle_sha256, "model bundle")]
    if slide.model.site_profile_sha256 is not None:
        parts.append(("site profile", "", slide.model.site_profile_sha256, "site profile (site.json)"))
    for model_name, version, digest, description in parts:
        item = Dataset()
        purpose = Dataset()
        purpose.CodeValue = "109102"
        purpose.CodingSchemeDesignator = "DCM"
        purpose.CodeMeaning = "Processing Equipment"
        item.PurposeOfReferenceCodeSequence = [purpose]
        item.Manufacturer = MANUFACTURER
        item.ManufacturerModelName = model_name[:64]
        if version:
            item.SoftwareVersions = version
        item.DeviceSerialNumber = digest
        item.ContributionDescription = f"{description}, sha256 in Device Serial Number"
        items.append(item)
    return items


def shared_attributes(ds: Dataset, slide: SlideExport, uids: UidScheme) -> None:
    """Patient, General Study, General Equipment and SOP Common parts that every instance carries."""
    started = slide.started_at
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: clinics and people are named in any script
    ds.PatientName = slide.patient.name if slide.patient else ""
    ds.PatientID = slide.patient.id if slide.patient else ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = uids.study(slide.record_id)
    ds.StudyDate = da(started)
    ds.StudyTime = tm(started)
    ds.ReferringPhysicianName = ""
    ds.StudyID = slide.sample_id
    ds.AccessionNumber = slide.sample_id
    ds.StudyDescription = STUDY_DESCRIPTION
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = slide.clinic[:64]
    ds.SoftwareVersions = software_versions(slide)
    ds.ContributingEquipmentSequence = contributing_equipment(slide)
    ds.TimezoneOffsetFromUTC = tz_offset(started)
    ds.CodingSchemeIdentificationSequence = codes.scheme_identification()
