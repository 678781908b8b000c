"""One field of view as a DICOM VL Microscopic Image, or a VL Slide-Coordinates Microscopic Image when
the stage told where on the slide the field was (DICOM PS3.3 A.32.2 and A.32.3).

Why these IODs and not Secondary Capture: a PACS and a pathology viewer file a VL microscopic image
as a picture through a microscope, with its specimen (the slide, by its sample id), its pixel
spacing and, in the slide-coordinates form, where on the slide it lies; a Secondary Capture says
only "a picture". Why not VL Whole Slide Microscopy: a field of view is one camera frame, not a
tiled pyramid. Built with pydicom (highdicom builds SR and annotations, not VL images); the
specimen module with highdicom's SpecimenDescription.

A JPEG from the clinic goes in as it is (JPEG Baseline transfer syntax, no second lossy step);
pixels go in uncompressed (Explicit VR Little Endian). Pixel Spacing is written only when the
field's µm per pixel is known: a guessed scale would make every measurement in the PACS wrong.
"""

from __future__ import annotations

import io

import highdicom as hd
import numpy as np
from PIL import Image, JpegImagePlugin
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sr.codedict import codes as dcm_codes
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, JPEGBaseline8Bit

from edge_all.standards.dicom_header import da, dt, shared_attributes, tm
from edge_all.standards.errors import ExportError
from edge_all.standards.records import FieldExport, SlideExport
from edge_all.standards.uids import UidScheme

VL_MICROSCOPIC = UID("1.2.840.10008.5.1.4.1.1.77.1.2")
VL_SLIDE_COORDINATES = UID("1.2.840.10008.5.1.4.1.1.77.1.3")
IMAGE_SERIES_NUMBER = 1
SPECIMEN_DESCRIPTION = "Peripheral blood smear"


def on_slide_coordinates(slide: SlideExport) -> bool:
    """Slide coordinates only when every field has a stage position: a series holds one modality
    (SM for slide coordinates, GM for plain VL microscopic), so one unknown position makes it GM."""
    return all(f.stage is not None for f in slide.fields)


def _ds_number(value: float) -> str:
    """A decimal string within DS's 16 characters."""
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.6e}"


def _specimen(ds: Dataset, slide: SlideExport, uids: UidScheme) -> None:
    """Specimen module: the slide (container) and the smear on it (specimen), both by the sample id."""
    issuer = hd.IssuerOfIdentifier(slide.clinic_id or slide.clinic[:64])
    description = hd.SpecimenDescription(
        specimen_id=slide.sample_id,
        specimen_uid=uids.uid("specimen", slide.record_id),
        specimen_preparation_steps=[],
        issuer_of_specimen_id=issuer,
        specimen_type=dcm_codes.SCT.Blood,
        specimen_short_description=SPECIMEN_DESCRIPTION,
    )
    ds.ContainerIdentifier = slide.sample_id
    ds.IssuerOfTheContainerIdentifierSequence = [issuer]
    container = Dataset()
    container.CodeValue = dcm_codes.SCT.MicroscopeSlide.value
    container.CodingSchemeDesignator = "SCT"
    container.CodeMeaning = dcm_codes.SCT.MicroscopeSlide.meaning
    ds.ContainerTypeCodeSequence = [container]
    ds.SpecimenDescriptionSequence = [description]


def _pixels(ds: Dataset, field: FieldExport) -> UID:
    """Image Pixel module and Pixel Data; returns the transfer syntax."""
    ds.SamplesPerPixel = 3
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PlanarConfiguration = 0
    width, height = field.size
    ds.Rows, ds.Columns = height, width
    if isinstance(field.picture, np.ndarray):
        ds.PhotometricInterpretation = "RGB"
        ds.LossyImageCompression = "00"
        ds.PixelData = np.ascontiguousarray(field.picture).tobytes()
        return ExplicitVRLittleEndian
    with Image.open(io.BytesIO(field.picture)) as image:
        progressive = bool(image.info.get("progressive") or image.info.get("progression"))
        baseline = not progressive and getattr(image, "bits", 8) == 8
        sampling = JpegImagePlugin.get_sampling(image)
    if not baseline or sampling < 0:
        raise ExportError(f"field {field.number} JPEG is not 8-bit baseline: send its pixels instead")
    # DICOM PS3.5 8.2.1: a baseline JPEG's colour space is YBR_FULL_422 when chroma is subsampled
    # (4:2:2 or 4:2:0) and YBR_FULL when it is not (4:4:4).
    ds.PhotometricInterpretation = "YBR_FULL" if sampling == 0 else "YBR_FULL_422"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.LossyImageCompressionRatio = _ds_number(width * height * 3 / len(field.picture))
    ds.PixelData = encapsulate([field.picture])
    ds["PixelData"].VR = "OB"
    return JPEGBaseline8Bit


def field_instance(slide: SlideExport, field: FieldExport, uids: UidScheme) -> Dataset:
    """The DICOM instance of one field: deterministic UIDs, so the same field is the same instance."""
    ds = Dataset()
    positioned = on_slide_coordinates(slide)
    sop_class_uid = VL_SLIDE_COORDINATES if positioned else VL_MICROSCOPIC
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = uids.image(slide.record_id, field.record_id)
    shared_attributes(ds, slide, uids)
    issuer = Dataset()
    issuer.LocalNamespaceEntityID = (slide.clinic_id or slide.clinic)[:64]
    ds.IssuerOfAccessionNumberSequence = [issuer]
    # General Series: SM (slide microscopy) for slide coordinates, GM (general microscopy) otherwise.
    ds.Modality = "SM" if positioned else "GM"
    ds.SeriesInstanceUID = uids.image_series(slide.record_id)
    ds.SeriesNumber = IMAGE_SERIES_NUMBER
    ds.SeriesDescription = f"Fields of view of {slide.sample_id}"[:64]
    ds.SeriesDate = da(slide.started_at)
    ds.SeriesTime = tm(slide.started_at)
    # General Image and VL Image
    ds.InstanceNumber = field.number
    ds.PatientOrientation = ""
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ContentDate = da(field.captured_at)
    ds.ContentTime = tm(field.captured_at)
    ds.AcquisitionDateTime = dt(field.captured_at)
    ds.ImageComments = f"Field {field.number} of sample {slide.sample_id}; {len(field.cells)} cells read"
    if field.stage is not None and not positioned:
        stage = field.stage
        ds.ImageComments += f"; stage at x {stage.x_mm} mm, y {stage.y_mm} mm (not every field has one)"
    ds.AcquisitionContextSequence = []
    if field.um_per_pixel is not None:
        spacing_mm = _ds_number(field.um_per_pixel / 1000.0)
        ds.PixelSpacing = [spacing_mm, spacing_mm]  # row spacing \ column spacing, in mm
    if positioned and field.stage is not None:
        # Frame of Reference (the slide's coordinate system) and Slide Coordinates (the field's centre)
        ds.FrameOfReferenceUID = uids.frame_of_reference(slide.record_id)
        ds.PositionReferenceIndicator = "SLIDE_CORNER"
        centre = Dataset()
        centre.XOffsetInSlideCoordinateSystem = _ds_number(field.stage.x_mm)
        centre.YOffsetInSlideCoordinateSystem = _ds_number(field.stage.y_mm)
        centre.ZOffsetInSlideCoordinateSystem = (
            _ds_number(field.stage.z_mm) if field.stage.z_mm is not None else None
        )
        ds.ImageCenterPointCoordinatesSequence = [centre]
    _specimen(ds, slide, uids)
    transfer_syntax = _pixels(ds, field)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.InstanceCreationDate = da(field.captured_at)
    ds.InstanceCreationTime = tm(field.captured_at)
    return ds
