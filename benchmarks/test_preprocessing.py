"""Preprocessing time: an image file or a camera frame to the model's 224x224 uint8 pixels.

Through `Classifier.prepare` (edge_all.runtime.images: decode, EXIF orientation, RGB, centre crop, bilinear
resize), the exact path `predict` takes. Frames: 1920x1080 (a USB microscope camera, HD) and
4056x3040 (the Raspberry Pi HQ camera's full resolution), as in-memory arrays (what camera sources
hand over) and, for 224 and HD, as JPEG files (what the folder source and `classify` read).
Sources now shrink a large frame once where it arrives (edge_all.capture.pixels); that step is
measured here too, with how far the quality gate's focus metric on its result is from the gate's
own resize of the whole frame.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from benchmarks.settings import ROUNDS, WARMUP, median, median_ms
from edge_all.capture.pixels import from_bgr
from edge_all.capture.sources import FrameRequest
from edge_all.runtime.benchmark import synthetic_smear
from edge_all.runtime.classifier import Classifier
from edge_all.triage.quality import assess, measure
from edge_all.triage.thresholds import QualityThresholds

FRAMES = {"224x224": (224, 224), "1920x1080": (1080, 1920), "4056x3040": (3040, 4056)}
FILE_FRAMES = ("224x224", "1920x1080")
SOURCE_FRAMES = {
    "320x240": (240, 320),
    "640x480": (480, 640),
    "1920x1080": (1080, 1920),
    "4056x3040": (3040, 4056),
}


@pytest.fixture(scope="module")
def classifier(bench_models) -> Classifier:
    return Classifier.load(bench_models("resnet50")["int8"].bundle, threads=2)


@pytest.fixture(scope="module")
def frames() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {name: synthetic_smear(rng, h, w) for name, (h, w) in FRAMES.items()}


@pytest.mark.parametrize("frame", FILE_FRAMES)
def test_prepare_jpeg_file(benchmark, results, classifier, frames, tmp_path, frame):
    path = tmp_path / f"{frame}.jpg"
    Image.fromarray(frames[frame]).save(path, quality=90)
    benchmark.group = "preprocessing"
    pixels = benchmark.pedantic(classifier.prepare, args=(path,), rounds=ROUNDS, warmup_rounds=WARMUP)
    assert pixels.shape == (224, 224, 3)
    results.put("preprocessing", f"JPEG file {frame}", ms=median_ms(benchmark), bytes=path.stat().st_size)


@pytest.mark.parametrize("frame", list(FRAMES))
def test_prepare_camera_frame(benchmark, results, classifier, frames, frame):
    benchmark.group = "preprocessing"
    pixels = benchmark.pedantic(
        classifier.prepare, args=(frames[frame],), rounds=ROUNDS, warmup_rounds=WARMUP
    )
    assert pixels.shape == (224, 224, 3)
    results.put("preprocessing", f"RGB array {frame}", ms=median_ms(benchmark))


@pytest.mark.parametrize("frame", list(FRAMES))
def test_quality_gate(benchmark, results, frames, frame):
    """capture-and-classify checks every frame's quality before the model sees it."""
    benchmark.group = "quality gate"
    limits = QualityThresholds()
    benchmark.pedantic(assess, args=(frames[frame], limits), rounds=ROUNDS, warmup_rounds=WARMUP)
    results.put("quality_gate", f"RGB array {frame}", ms=median_ms(benchmark))


def prepare_reducing_gap(frame: np.ndarray, size: int = 224) -> np.ndarray:
    """A candidate for edge_all.runtime.images.resize_rgb on large frames (not what the runtime does today).

    Two changes: the centre crop goes through `resize(box=...)` instead of slicing the array (the
    slice is not contiguous, so PIL copies it first), and `reducing_gap=2.0` lets PIL shrink by an
    integer factor before the bilinear pass (its documented fast path for big reductions).
    """
    height, width = frame.shape[:2]
    side = min(height, width)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    image = Image.fromarray(frame)
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0))


def prepare_jpeg_draft(path, size: int = 224) -> np.ndarray:
    """A candidate for large JPEG files: let libjpeg decode at 1/2, 1/4 or 1/8 scale (DCT scaling,
    `Image.draft`) while the result stays at least twice the model size, then crop and resize."""
    with Image.open(path) as image:
        image.draft("RGB", (2 * size, 2 * size))
        return prepare_reducing_gap(np.asarray(image.convert("RGB")), size)


def test_prepare_jpeg_file_draft(benchmark, results, classifier, frames, tmp_path):
    """What decoding a 1920x1080 JPEG at reduced scale would save, and how far its pixels are."""
    path = tmp_path / "1920x1080.jpg"
    Image.fromarray(frames["1920x1080"]).save(path, quality=90)
    benchmark.group = "preprocessing"
    pixels = benchmark.pedantic(prepare_jpeg_draft, args=(path,), rounds=ROUNDS, warmup_rounds=WARMUP)
    difference = np.abs(pixels.astype(np.int16) - classifier.prepare(path).astype(np.int16))
    results.put(
        "preprocessing_candidate",
        "JPEG file 1920x1080",
        ms=median_ms(benchmark),
        max_abs_diff=int(difference.max()),
        mean_abs_diff=float(difference.mean()),
    )


@pytest.mark.parametrize("frame", ["1920x1080", "4056x3040"])
def test_prepare_camera_frame_reducing_gap(benchmark, results, classifier, frames, frame):
    """What the change above would save, and how far its pixels are from today's."""
    benchmark.group = "preprocessing"
    image = frames[frame]
    pixels = benchmark.pedantic(prepare_reducing_gap, args=(image,), rounds=ROUNDS, warmup_rounds=WARMUP)
    today = classifier.prepare(frames[frame]).astype(np.int16)
    difference = np.abs(pixels.astype(np.int16) - today)
    results.put(
        "preprocessing_candidate",
        f"RGB array {frame}",
        ms=median_ms(benchmark),
        max_abs_diff=int(difference.max()),
        mean_abs_diff=float(difference.mean()),
    )


@pytest.mark.parametrize("frame", list(SOURCE_FRAMES))
def test_shrink_at_the_source(benchmark, results, frame):
    """A camera or video frame (OpenCV's BGR) to the RGB frame the loop gets, for a 224x224 model."""
    rgb = synthetic_smear(np.random.default_rng(4), *SOURCE_FRAMES[frame])
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    request = FrameRequest(min_size=(224, 224))
    benchmark.group = "shrink at the source"
    small, _ = benchmark.pedantic(from_bgr, args=(bgr, request), rounds=ROUNDS, warmup_rounds=WARMUP)
    gate_ms = median([_timed(assess, small, QualityThresholds()) for _ in range(ROUNDS)])
    results.put(
        "source_shrink",
        f"{frame} -> {small.shape[1]}x{small.shape[0]}",
        ms=median_ms(benchmark),
        gate_ms=gate_ms,
        focus_ratio=measure(small).focus / measure(rgb).focus,
    )


def _timed(function, *args) -> float:
    begin = time.perf_counter()
    function(*args)
    return (time.perf_counter() - begin) * 1000.0
