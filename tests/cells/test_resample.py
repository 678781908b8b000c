"""Resampling to a scale: area averaging down, never up (with the reason), sizes and scales that agree."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.cells.resample import shrink_by, to_scale


def test_a_finer_image_is_area_averaged_to_the_scale():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, ::2] = 255  # one-pixel stripes: area averaging makes them an even grey
    done = to_scale(rgb, 0.275, 0.55)
    assert done.rgb.shape == (50, 100, 3) and done.note is None
    assert done.um_per_px == pytest.approx(0.55) and done.factor == pytest.approx(0.5)
    assert np.abs(done.rgb.astype(int) - 128).max() <= 1


def test_the_scale_reached_is_the_one_the_rounded_size_gives():
    done = to_scale(np.zeros((90, 145, 3), np.uint8), 0.1, 0.55)
    assert done.rgb.shape[1] == round(145 * 0.1 / 0.55)
    assert done.um_per_px == pytest.approx(145 / done.rgb.shape[1] * 0.1)


def test_a_coarser_image_is_not_upsampled_and_says_so():
    rgb = np.zeros((30, 40, 3), np.uint8)
    done = to_scale(rgb, 0.8, 0.55)
    assert done.rgb is rgb and done.um_per_px == 0.8 and done.factor == 1.0
    assert "not upsampled" in done.note and "0.8" in done.note
    same = to_scale(rgb, 0.555, 0.55)  # within 2%: the same scale, left alone
    assert same.rgb is rgb and same.note is None


def test_bad_scales_are_refused():
    with pytest.raises(ValueError, match="positive"):
        to_scale(np.zeros((4, 4, 3), np.uint8), 0.0, 0.55)
    assert shrink_by(np.zeros((4, 4, 3), np.uint8), 1.5).shape == (4, 4, 3)
