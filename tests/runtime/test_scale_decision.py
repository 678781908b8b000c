"""The decision with a scale: a model that reads cells refers an image of unknown scale ("scale unknown",
saying how to give it) before anything reads it; a whole-field model reads it as today, and says so."""

from __future__ import annotations

from edge_all.cells.scale import ScaleEstimate, scale_of
from edge_all.results.judged import JudgedField
from edge_all.runtime.classifier import Classifier
from edge_all.triage.decision import SCALE_UNKNOWN, assess_field, reads_cells
from edge_all.triage.status import Status
from edge_all.triage.thresholds import QualityThresholds
from tests.cells.smears import draw_field


def test_scale_unknown_is_referred_for_a_model_that_reads_cells(tiny_bundle):
    classifier = Classifier.load(tiny_bundle, threads=1)
    assert not reads_cells(classifier)  # a format-2 bundle reads the whole field
    single_cell = draw_field(0.1, (360, 360), red_cells=2)
    scale = scale_of(single_cell, reads_cells=True)
    field = assess_field(single_cell, classifier, QualityThresholds(), 0.5, scale=scale, reads_cells=True)
    assert field.status == Status.REFERRED and field.prediction is None
    assert field.reason.startswith(f"{SCALE_UNKNOWN}: ") and "--um-per-px" in field.reason
    judged = JudgedField.of(field, classifier.labels)
    assert judged.scale == {"um_per_px": None, "source": "estimated"}
    assert judged.record_fields()["scale_source"] == "estimated"


def test_a_whole_field_model_reads_an_image_of_unknown_scale_as_today(tiny_bundle):
    classifier = Classifier.load(tiny_bundle, threads=1)
    single_cell = draw_field(0.1, (360, 360), red_cells=2)
    scale = scale_of(single_cell)
    field = assess_field(single_cell, classifier, QualityThresholds(), 0.5, scale=scale)
    assert scale.source == "bundle-free" and field.quality.um_per_px is None  # measured the old way
    given = assess_field(single_cell, classifier, QualityThresholds(), 0.5, scale=ScaleEstimate.given(0.1))
    assert given.quality.um_per_px is not None and given.scale.source == "given"
