"""Frames shrunk once at the source: the sizes chosen, and the quality gate's thresholds unchanged.

The quality gate measures a copy of each frame scaled so its short side is 224 pixels, made with
Pillow's antialiased bilinear resize (quality.analysis_copy). A source now hands the gate a frame
already shrunk to that size, by edge_all.capture.pixels.shrink, so the gate's thresholds keep
their meaning only if both shrinks give the same metrics. These tests measure how close they are
on noisy smear-like frames at the sizes cameras and videos deliver.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.capture import pixels
from edge_all.capture.pixels import covering_size, shrink, smallest_covering, yuv420_to_rgb
from edge_all.runtime.benchmark import synthetic_smear
from edge_all.triage.quality import assess, measure
from edge_all.triage.thresholds import QualityThresholds

from .helpers import blurred, darkened
from .yuv import encode_yuv420

# Frame sizes of real cameras and videos: UVC VGA/QVGA/CIF, HD, the Pi HQ camera's full and
# binned sensor, the Pi camera v2's binned mode.
CAMERA_SIZES = [(320, 240), (352, 288), (640, 480), (800, 600), (1280, 720), (1920, 1080)]
CAMERA_SIZES += [(1640, 1232), (4056, 3040)]


@pytest.fixture(params=["opencv", "pillow"])
def resizer(request, monkeypatch):
    """shrink() through OpenCV (video and USB sources) and through Pillow (devices without OpenCV)."""
    if request.param == "opencv":
        pytest.importorskip("cv2")
    else:
        monkeypatch.setattr(pixels, "_cv2", lambda: None)
    return request.param


def test_covering_size_keeps_the_aspect_and_never_enlarges():
    assert covering_size((1920, 1080), (224, 224)) == (399, 224)
    assert covering_size((4056, 3040), (224, 224)) == (299, 224)
    assert covering_size((1080, 1920), (224, 224)) == (224, 399)  # portrait
    assert covering_size((320, 240), (224, 224)) == (299, 224)
    assert covering_size((224, 224), (224, 224)) == (224, 224)
    assert covering_size((160, 120), (224, 224)) == (160, 120)  # smaller than asked: left alone
    assert covering_size((640, 480), (300, 100)) == (300, 225)  # a wide model: the width decides


def test_smallest_covering_picks_the_smallest_full_view_size():
    # What a typical UVC microscope camera lists (4:3 sensor; the 16:9 sizes are crops of it).
    offered = [(160, 120), (176, 144), (320, 240), (352, 288), (640, 480), (640, 360), (800, 600)]
    offered += [(1280, 720), (1280, 960)]
    assert smallest_covering(offered, (224, 224)) == (320, 240)
    assert smallest_covering(offered, (500, 500)) == (800, 600)
    assert smallest_covering(offered, (2000, 2000)) == (1280, 960)  # none covers: the largest
    # A 16:9 camera: its 4:3 sizes are the crops.
    assert smallest_covering([(1920, 1080), (1280, 720), (640, 360), (640, 480)], (224, 224)) == (640, 360)
    assert smallest_covering([], (224, 224)) is None


@pytest.mark.parametrize("size", CAMERA_SIZES, ids=[f"{w}x{h}" for w, h in CAMERA_SIZES])
def test_shrunk_frames_keep_the_quality_metrics(resizer, size):
    """The gate's metrics on the shrunk frame stay within a few per cent of its own resize's."""
    width, height = size
    frame = synthetic_smear(np.random.default_rng(width), height, width)
    small = shrink(frame, (224, 224))
    assert small.shape == (224, round(224 * width / height + 0.4999), 3)
    ours, reference = measure(small), measure(frame)
    assert ours.brightness == pytest.approx(reference.brightness, abs=1.0)
    assert ours.contrast == pytest.approx(reference.contrast, rel=0.03)
    assert ours.clipped == pytest.approx(reference.clipped, abs=0.01)
    assert ours.stained == pytest.approx(reference.stained, rel=0.05)
    # Focus (variance of the Laplacian) is the metric a resize changes most: a box average keeps
    # more sensor noise than an antialiased bilinear one, and noise reads as sharpness.
    assert ours.focus == pytest.approx(reference.focus, rel=0.15)


@pytest.mark.parametrize("size", [(1920, 1080), (640, 480)], ids=["HD", "VGA"])
def test_the_gate_decides_alike_on_shrunk_frames(resizer, size):
    """Sharp, blurred, dark and blank fields get the same verdict whether shrunk at the source or not."""
    width, height = size
    rng = np.random.default_rng(1)
    sharp = synthetic_smear(rng, height, width)
    variants = {
        "sharp": sharp,
        "blurred": blurred(sharp, sigma=1.5 * height / 224),
        "dark": darkened(sharp, 0.5),
        "blank": np.clip(rng.normal(225, 2, sharp.shape), 0, 255).astype(np.uint8),
    }
    limits = QualityThresholds()

    def verdict(frame: np.ndarray) -> str:
        return (assess(frame, limits).reason or "passed").split(":")[0]

    verdicts = {name: verdict(frame) for name, frame in variants.items()}
    assert {name: verdict(shrink(frame, (224, 224))) for name, frame in variants.items()} == verdicts
    assert verdicts == dict(sharp="passed", blurred="out_of_focus", dark="too_dark", blank="empty_field")


def test_shrink_keeps_channel_order_and_returns_small_frames_untouched(resizer):
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[..., 0], frame[..., 2] = 200, 30
    small = shrink(frame, (224, 224))
    assert small.shape == (224, 399, 3)
    assert abs(int(small[..., 0].mean()) - 200) <= 1 and abs(int(small[..., 2].mean()) - 30) <= 1
    fitting = np.zeros((224, 300, 3), np.uint8)
    assert shrink(fitting, (224, 224)) is fitting
    assert shrink(frame, None) is frame


# ---- YUV420 ------------------------------------------------------------------------------------
def blocky_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """RGB constant over 2x2 blocks, so 4:2:0 chroma subsampling loses nothing."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(20, 236, (height // 2, width // 2, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1)


@pytest.mark.parametrize("matrix", ["rec601", "rec709"])
@pytest.mark.parametrize("full_range", [True, False], ids=["full-range", "video-range"])
@pytest.mark.parametrize("vu", [False, True], ids=["YUV420", "YVU420"])
def test_yuv420_round_trip(matrix, full_range, vu):
    rgb = blocky_rgb(240, 320)
    stride = 384  # picamera2 leaves the stride's padding in a YUV420 array
    planar = encode_yuv420(rgb, stride, matrix, full_range, vu)
    assert planar.shape == (360, stride)
    back = yuv420_to_rgb(planar, (320, 240), matrix, full_range, vu)
    assert back.shape == (240, 320, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - rgb).max() <= 2  # 8-bit Y'CbCr rounding, twice


def test_yuv420_wrong_matrix_or_range_shows():
    """The converter really uses the matrix and range it is given (so the stream's colour space matters)."""
    rgb = blocky_rgb(64, 64)
    planar = encode_yuv420(rgb, 64, "rec601", True, False)
    assert np.abs(yuv420_to_rgb(planar, (64, 64), "rec709", True).astype(int) - rgb).max() > 10
    assert np.abs(yuv420_to_rgb(planar, (64, 64), "rec601", False).astype(int) - rgb).max() > 10


def test_yuv420_rejects_what_is_not_yuv420():
    with pytest.raises(ValueError, match="even width and height"):
        yuv420_to_rgb(np.zeros((360, 321), np.uint8), (321, 240))
    with pytest.raises(ValueError, match="is not a 320x240 YUV420 image"):
        yuv420_to_rgb(np.zeros((240, 320), np.uint8), (320, 240))
