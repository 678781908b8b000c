"""The quality gate at the reference scale: a sharp field at five times the home lab's magnification is
not "out of focus", its blurred copy still is; a dim lamp is too dark, a crowded field is not."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.cells.scale import REFERENCE_UM_PER_PX
from edge_all.triage.quality import assess, measure
from edge_all.triage.thresholds import QualityThresholds
from tests.cells.smears import blurred, draw_field

LIMITS = QualityThresholds()


def code(report) -> str | None:
    return report.reason.split(":")[0] if report.reason else None


@pytest.mark.parametrize("um_per_px", [0.1, 0.05])
def test_a_sharp_field_at_high_magnification_passes_at_its_scale_and_its_blurred_copy_does_not(um_per_px):
    size = (900, 600) if um_per_px == 0.1 else (1600, 1000)
    sharp = draw_field(um_per_px, size, seed=2)
    # Measured as given (no scale), the sharp field reads as blurred: the false reason of issue 22.
    assert code(assess(sharp, LIMITS)) == "out_of_focus"
    at_scale = assess(sharp, LIMITS, um_per_px)
    assert at_scale.passed, at_scale.reason
    assert at_scale.metrics.um_per_px == pytest.approx(REFERENCE_UM_PER_PX, rel=0.02)
    # Gaussian blur of 2 px at the reference scale: still rejected, and the reason says to refocus.
    soft = assess(blurred(sharp, 2.0 * REFERENCE_UM_PER_PX / um_per_px), LIMITS, um_per_px)
    assert code(soft) == "out_of_focus" and "refocus" in soft.reason


def test_a_field_at_the_home_labs_scale_reads_as_before():
    field = draw_field(0.5, (224, 224), seed=5)
    before, after = assess(field, LIMITS), assess(field, LIMITS, 0.5)
    assert before.passed and after.passed
    assert code(assess(blurred(field, 2.0), LIMITS, 0.5)) == "out_of_focus"


def test_too_dark_is_a_dim_lamp_not_a_crowded_field():
    crowded = draw_field(0.25, (480, 360), seed=6)
    crowded[:, : crowded.shape[1] * 4 // 5] = (140, 80, 110)  # most of the field dense with cells
    metrics = measure(crowded, 0.25)
    assert metrics.brightness < 130 and metrics.glass > 200  # the old gate's "too_dark"
    assert code(assess(crowded, LIMITS, 0.25)) != "too_dark"
    # Another lab's lamp, set lower: the glass at about 150 is not too dark either.
    dimmer = draw_field(0.25, (480, 360), lamp=0.63, seed=6)
    assert assess(dimmer, LIMITS, 0.25).passed, assess(dimmer, LIMITS, 0.25).reason
    dark = draw_field(0.25, (480, 360), lamp=0.35, seed=6)
    report = assess(dark, LIMITS, 0.25)
    assert code(report) == "too_dark" and "turn the lamp up" in report.reason


def test_each_rejection_says_what_to_do():
    field = draw_field(0.25, (480, 360), seed=7)
    assert "turn the lamp down" in assess(np.full_like(field, 255), LIMITS, 0.25).reason
    grey = np.repeat(field.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    assert "check the stain" in assess(grey, LIMITS, 0.25).reason
    glass = np.full_like(field, 236)
    assert "move to a field with cells" in assess(glass, LIMITS, 0.25).reason
