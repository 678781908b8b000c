"""The numbers behind `edge-all benchmark`: percentiles, and whose memory a fresh process reports."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edge_all.runtime.benchmark import LatencyStats, measure_process, write_synthetic_images


def test_percentiles_match_numpy():
    samples = np.random.default_rng(0).gamma(2.0, 5.0, size=137).tolist()
    stats = LatencyStats.from_ms(samples)
    assert stats.runs == 137
    for q, value in ((50, stats.p50_ms), (90, stats.p90_ms), (99, stats.p99_ms)):
        assert value == pytest.approx(np.percentile(samples, q))
    assert stats.mean_ms == pytest.approx(np.mean(samples))
    assert (stats.min_ms, stats.max_ms) == (min(samples), max(samples))


def test_one_sample_and_none():
    stats = LatencyStats.from_ms([4.0])
    assert stats.p50_ms == stats.p99_ms == stats.min_ms == stats.max_ms == 4.0
    with pytest.raises(ValueError):
        LatencyStats.from_ms([])


def test_synthetic_images_are_readable_jpegs(tmp_path):
    paths = write_synthetic_images(tmp_path, 3, 48, 80)
    assert len(paths) == 3
    for path in paths:
        with Image.open(path) as image:
            assert (image.format, image.size, image.mode) == ("JPEG", (80, 48), "RGB")


def test_fresh_process_reports_its_own_peak_memory(int8_bundle, tmp_path):
    """Linux carries ru_maxrss from parent to child across fork+exec; the probe must not report ours.

    The parent holds 400 MB when it starts the child; the child (a small model) stays far below.
    """
    ballast = np.ones(400 * 1024 * 1024 // 8)
    images = write_synthetic_images(tmp_path, 2, 64, 64)
    stats = measure_process(int8_bundle, images, threads=1)
    assert ballast.sum() > 0  # still held while the child ran
    assert stats.images == 2
    assert 0 < stats.peak_rss_mb < 400
    assert stats.tensorflow_imported is False


def test_fresh_process_failure_is_one_line(tmp_path):
    from edge_all.runtime.benchmark import BenchmarkError

    images = write_synthetic_images(tmp_path, 1, 32, 32)
    missing = tmp_path / "gone.tflite"
    with pytest.raises(BenchmarkError) as failure:
        measure_process(missing, images)
    expected = f"{missing}: no such model file or bundle directory"
    assert str(failure.value) == f"the fresh-process measurement failed: {expected}"
