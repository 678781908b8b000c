"""The export records refuse what DICOM and FHIR could not carry, each with a one-line EdgeAllError."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
import pytest

from edge_all.errors import EdgeAllError
from edge_all.standards.errors import ExportError
from edge_all.standards.records import Box, Cell, FieldExport, ModelUsed, SlideExport
from tests.standards.helpers import START, jpeg, make_slide


def _field(**changes) -> FieldExport:
    base = dict(record_id="f", number=1, captured_at=START, picture=np.zeros((20, 30, 3), np.uint8))
    return FieldExport(**{**base, **changes})


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Box(5, 5, 5, 9), "empty"),
        (lambda: Cell(Box(0, 0, 2, 2), "Pre", 1.5, "classified"), "confidence"),
        (lambda: Cell(Box(0, 0, 2, 2), "Pre", float("nan"), "classified"), "confidence"),
        (lambda: Cell(Box(0, 0, 2, 2), "", 0.5, "classified"), "cell class is empty"),
        (lambda: _field(captured_at=datetime(2026, 1, 1)), "no time zone"),
        (lambda: _field(picture=np.zeros((20, 30), np.uint8)), "not RGB uint8"),
        (lambda: _field(picture=b"GIF89a"), "neither pixels nor a JPEG"),
        (lambda: _field(picture=b"\xff\xd8 broken"), "cannot be read"),
        (lambda: _field(um_per_pixel=0.0), "positive"),
        (lambda: _field(number=0), "1 or more"),
        (lambda: _field(cells=(Cell(Box(25, 0, 31, 5), "Pre", 0.9, "classified"),)), "outside the 30x20"),
        (lambda: ModelUsed("m", "1", "abc"), "64 lower-case hex"),
        (lambda: dataclasses.replace(make_slide(2), sample_id="S" * 17), "longer than 16"),
        (lambda: dataclasses.replace(make_slide(2), fields=()), "has no fields"),
        (lambda: dataclasses.replace(make_slide(2), clinic="a\\b"), "backslash"),
    ],
)
def test_what_cannot_be_carried_is_refused_in_one_line(make, words):
    with pytest.raises(ExportError) as caught:
        make()
    assert isinstance(caught.value, EdgeAllError)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_two_fields_with_one_number_are_refused():
    slide = make_slide(2)
    twin = dataclasses.replace(slide.fields[1], number=1)
    with pytest.raises(ExportError, match="two fields with one number"):
        SlideExport(**{**slide.__dict__, "fields": (slide.fields[0], twin)})


def test_a_jpeg_field_knows_its_size_from_the_header():
    pixels = np.zeros((48, 64, 3), np.uint8)
    assert _field(picture=jpeg(pixels)).size == (64, 48)


def test_cell_counts_are_per_class_over_the_slide():
    slide = make_slide(4)
    counts = slide.cell_counts()
    assert sum(counts.values()) == sum(len(f.cells) for f in slide.fields)
    assert list(counts) == sorted(counts)
