"""The quality gate's rules at their edges, on frames built pixel by pixel so each answer is known.

tests/capture/test_quality.py shows the gate on real-looking smears; these pin the arithmetic
(which channel, which side of each limit, how a strip is scaled) that those could let drift.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from edge_all.triage.quality import (
    QualityMetrics,
    analysis_copy,
    judge,
    laplacian_variance,
    measure,
    odd_shape,
    stained_fraction,
)
from edge_all.triage.thresholds import QualityThresholds


def field(*pixels: tuple[int, int, int]) -> np.ndarray:
    return np.array([list(pixels)], dtype=np.uint8)


def test_stain_is_green_missing_from_red_and_blue():
    assert stained_fraction(field((200, 150, 200))) == 1.0  # 25% below: stained
    assert stained_fraction(field((200, 160, 200))) == 0.0  # exactly 20% below: not yet
    assert stained_fraction(field((200, 170, 200))) == 0.0
    assert stained_fraction(field((0, 100, 200))) == 0.0  # green at the mean of red and blue
    assert stained_fraction(field((200, 100, 0))) == 0.0
    assert stained_fraction(field((200, 190, 200), (200, 120, 200))) == 0.5
    assert stained_fraction(field((20, 0, 20))) == 1.0  # dim but not black
    assert stained_fraction(field((19, 0, 19))) == 0.0  # near-black: its ratio is noise


def test_focus_is_the_variance_of_the_interior_laplacian():
    gray = np.zeros((3, 5), np.uint8)
    gray[1, 1] = gray[1, 3] = 10  # Laplacian -40, 20, -40 across the one interior row
    assert laplacian_variance(gray) == pytest.approx(800.0)
    assert laplacian_variance(gray.T) == pytest.approx(800.0)
    assert laplacian_variance(np.full((2, 5), 255, np.uint8)) == 0.0  # no interior
    assert laplacian_variance(np.eye(5, 2, dtype=np.uint8) * 255) == 0.0


def test_clipping_counts_only_pixels_beyond_the_sensor_limits():
    assert measure(np.full((8, 8, 3), 2, np.uint8)).clipped == 0.0
    assert measure(np.full((8, 8, 3), 1, np.uint8)).clipped == 1.0
    assert measure(np.full((8, 8, 3), 252, np.uint8)).clipped == 0.0
    assert measure(np.full((8, 8, 3), 254, np.uint8)).clipped == 1.0


def test_a_metric_exactly_at_its_limit_passes():
    limits = QualityThresholds()
    at_limits = QualityMetrics(
        brightness=limits.min_brightness,
        contrast=limits.min_contrast,
        clipped=limits.max_clipped,
        stained=limits.min_stained,
        focus=limits.min_focus,
    )
    assert judge(at_limits, limits) is None
    assert judge(dataclasses.replace(at_limits, brightness=limits.max_brightness), limits) is None
    assert judge(dataclasses.replace(at_limits, brightness=limits.max_brightness + 0.1), limits) == (
        "too_bright: mean brightness 250.1 > 250: "
        "turn the lamp down or shorten the exposure, and take it again"
    )
    # Measured with its glass, the exposure is judged on the glass, not on the mean brightness.
    with_glass = dataclasses.replace(at_limits, brightness=60.0, glass=limits.min_brightness)
    assert judge(with_glass, limits) is None
    assert judge(dataclasses.replace(with_glass, glass=limits.min_brightness - 0.1), limits).startswith(
        "too_dark: the glass reads brightness"
    )


def test_the_analysis_copy_has_a_short_side_of_224_and_a_bounded_long_side():
    frame = np.zeros((224, 300, 3), np.uint8)
    assert analysis_copy(frame) is frame  # already the analysis size: no copy
    assert analysis_copy(np.zeros((10, 3000, 3), np.uint8)).shape == (7, 2240, 3)
    assert analysis_copy(np.zeros((100_000, 1, 3), np.uint8)).shape == (2240, 1, 3)
    assert analysis_copy(np.zeros((1, 100_000, 3), np.uint8)).shape == (1, 2240, 3)
    noise = np.random.default_rng(0).integers(0, 256, (448, 600, 3), dtype=np.uint8)
    bilinear = Image.fromarray(noise).resize((300, 224), Image.Resampling.BILINEAR)
    assert np.array_equal(analysis_copy(noise), np.asarray(bilinear))  # the filter the limits were tuned on


def test_a_frame_ten_times_wider_than_tall_is_still_a_field():
    assert odd_shape(np.zeros((10, 100, 3), np.uint8)) is None
    assert odd_shape(np.zeros((101, 10, 3), np.uint8)) == (
        "odd_shape: 10x101 pixels is not a field of view (one side > 10x other)"
    )


def test_metrics_are_reported_to_five_places():
    metrics = QualityMetrics(1.234567, 2.0, 0.1234567, 0.000012345, 99.999999)
    assert metrics.to_dict() == {
        "brightness": 1.23457,
        "contrast": 2.0,
        "clipped": 0.12346,
        "stained": 0.00001,
        "focus": 100.0,
    }
