"""A slide as the DICOM instances a PACS receives: one image per field (one series), one SR (a second
series of the same study: a series holds one modality, and an SR's is SR)."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from pydicom.dataset import Dataset

from edge_all.standards.dicom_image import field_instance
from edge_all.standards.dicom_sr import sr_instance
from edge_all.standards.records import SlideExport
from edge_all.standards.uids import UidScheme


@dataclass(frozen=True)
class SlideInstances:
    """The images in field order, then the SR."""

    images: tuple[Dataset, ...]
    sr: Dataset

    @property
    def all(self) -> tuple[Dataset, ...]:
        return (*self.images, self.sr)


def slide_instances(slide: SlideExport, uids: UidScheme) -> SlideInstances:
    images = tuple(field_instance(slide, f, uids) for f in sorted(slide.fields, key=lambda f: f.number))
    return SlideInstances(images=images, sr=sr_instance(slide, list(images), uids))


def part10(ds: Dataset) -> bytes:
    """The instance as a DICOM Part 10 file's bytes (what STOW-RS sends and the outbox keeps)."""
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
