"""The scale estimate on synthetic smears drawn at a known scale: within 10%, at any magnification, and
no scale (with the reason) where too few red cells show."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge_all.cells.scale import ScaleEstimate, estimate_scale, scale_of

from .smears import blurred, draw_field


@pytest.mark.parametrize(
    ("um_per_px", "size"),
    [(0.5, (320, 240)), (0.25, (480, 360)), (0.1, (900, 600)), (0.05, (1600, 1000))],
)
def test_the_estimate_is_within_ten_percent_at_any_magnification(um_per_px, size):
    for seed in (0, 1):
        estimate = estimate_scale(draw_field(um_per_px, size, seed=seed))
        assert estimate.known and estimate.source == "estimated", estimate
        assert estimate.um_per_px == pytest.approx(um_per_px, rel=0.10)
        assert estimate.red_cells >= 8 and estimate.spread is not None and estimate.reason is None


def test_the_estimate_holds_through_blur_and_noise():
    field = draw_field(0.2, (600, 450), seed=3)
    softer = blurred(field, 2.0)
    noisy = np.clip(field + np.random.default_rng(0).normal(0, 8, field.shape), 0, 255).astype(np.uint8)
    for rgb in (softer, noisy):
        assert estimate_scale(rgb).um_per_px == pytest.approx(0.2, rel=0.10)


def test_the_estimate_follows_a_resampling():
    from PIL import Image

    field = draw_field(0.2, (600, 450), seed=4)
    base = estimate_scale(field).um_per_px
    half = np.asarray(Image.fromarray(field).resize((300, 225), Image.Resampling.BOX))
    assert estimate_scale(half).um_per_px == pytest.approx(2 * base, rel=0.10)


def test_too_few_red_cells_get_no_scale_and_say_why():
    for rgb in (draw_field(0.25, (480, 360), red_cells=4, seed=1), draw_field(0.1, (360, 360), red_cells=2)):
        estimate = estimate_scale(rgb)
        assert estimate.um_per_px is None and not estimate.known
        assert "red cell" in estimate.reason, estimate.reason
    glass = np.full((200, 200, 3), 235, np.uint8)
    assert estimate_scale(glass).reason is not None
    assert estimate_scale(np.zeros((4, 300, 3), np.uint8)).reason.startswith("image too small")


def test_a_given_scale_is_used_as_given_and_checked():
    field = draw_field(0.25, (480, 360), red_cells=3)
    given = ScaleEstimate.given(0.25)
    assert scale_of(field, given) is given and given.to_dict()["source"] == "given"
    assert ScaleEstimate.given(0.3, "site").source == "site"
    for bad in (0.0, -1.0, float("nan"), float("inf"), 50.0):
        with pytest.raises(ValueError, match="um per px"):
            ScaleEstimate.given(bad)
    with pytest.raises(ValueError, match="unknown scale source"):
        ScaleEstimate(0.5, "guessed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either"):
        ScaleEstimate(None, "estimated")


def test_an_unknown_scale_is_bundle_free_for_a_whole_field_model_and_stays_unknown_for_cells():
    few = draw_field(0.25, (480, 360), red_cells=3)
    whole_field = scale_of(few)
    assert whole_field.source == "bundle-free" and whole_field.um_per_px is None and whole_field.reason
    cells = scale_of(few, reads_cells=True)
    assert cells.source == "estimated" and cells.um_per_px is None and "red cell" in cells.reason
    assert scale_of(draw_field(0.25, (480, 360))).source == "estimated"
    assert dataclasses.asdict(ScaleEstimate.bundle_free())["um_per_px"] is None
