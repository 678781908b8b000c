"""Frames at the model's size: real videos written with OpenCV, an OpenCV "camera" that cannot
change its size, the V4L2 size list, the option, and run_capture end to end.

No V4L2 device exists on the machines these tests run on (no /dev/video*, no v4l2loopback
module), so a USB camera setting its size is untested; `opencv:FILE` opens a video file through
the same OpenCVCamera class, whose driver (FFmpeg) refuses every size: the fallback path.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edge_all.capture import v4l2
from edge_all.capture.app import frame_request, run_capture
from edge_all.capture.options import CaptureOptions, CaptureRequest, parse_size
from edge_all.capture.sources import EndOfSource, FrameRequest
from edge_all.capture.spec import parse_source
from edge_all.errors import UsageError
from edge_all.results.store import ResultsStore
from edge_all.runtime.benchmark import synthetic_smear
from edge_all.runtime.choice import ModelChoice
from tests.cli_runner import run_edge_all

from .helpers import write_video

pytest.importorskip("cv2")

MODEL_INPUT = FrameRequest(min_size=(224, 224))


@pytest.fixture(scope="module")
def hd_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [synthetic_smear(rng, 1080, 1920) for _ in range(3)]


@pytest.fixture(scope="module")
def hd_video(tmp_path_factory, hd_frames):
    return write_video(tmp_path_factory.mktemp("video") / "hd.avi", hd_frames)


def read_all(source) -> list:
    frames = []
    with source:
        while True:
            try:
                frames.append(source.read())
            except EndOfSource:
                return frames


def reference(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)).astype(int)


def test_an_hd_video_is_shrunk_once_at_the_source(hd_video, hd_frames):
    source = parse_source(f"video:{hd_video}")
    source.configure(MODEL_INPUT)
    frames = read_all(source)
    assert [frame.rgb.shape for frame in frames] == [(224, 399, 3)] * 3
    assert all(frame.full is None for frame in frames)
    for frame, original in zip(frames, hd_frames, strict=True):  # the whole field, in RGB
        assert np.abs(frame.rgb.astype(int) - reference(original, (399, 224))).mean() < 4
    assert source.settings() is None  # a file has no camera settings


def test_saving_frames_keeps_the_full_resolution(hd_video, hd_frames):
    source = parse_source(f"video:{hd_video}")
    source.configure(FrameRequest(min_size=(224, 224), full_resolution=True))
    frames = read_all(source)
    assert [frame.full.shape for frame in frames] == [(1080, 1920, 3)] * 3
    assert [frame.rgb.shape for frame in frames] == [(224, 399, 3)] * 3
    assert np.abs(frames[0].to_save.astype(int) - hd_frames[0]).mean() < 8  # MJPEG, not a copy


def test_a_video_at_the_models_size_is_left_alone(tmp_path, smear_frames):
    video = write_video(tmp_path / "small.avi", smear_frames[:2])
    source = parse_source(f"video:{video}")
    source.configure(MODEL_INPUT)
    assert [frame.rgb.shape for frame in read_all(source)] == [(224, 224, 3)] * 2


def test_an_opencv_camera_whose_driver_keeps_its_size_still_delivers_the_requested_size(hd_video):
    """The driver (FFmpeg, for a file) ignores the size asked for; the source reads back what it
    really set, says so, and shrinks each frame itself."""
    source = parse_source(f"opencv:{hd_video}")
    source.configure(FrameRequest(min_size=(224, 224), capture_size=(640, 480), settle_frames=2))
    with source:
        frame = source.read()
        settings = source.settings()
    assert frame.rgb.shape == (224, 399, 3) and frame.origin == f"opencv:{hd_video}#0"
    assert settings["backend"] == "FFMPEG"
    assert settings["size"] == [1920, 1080] and settings["asked_size"] == [640, 480]
    assert settings["offered_sizes"] == []  # not a V4L2 device: nothing listed
    assert settings["pixel_format"] == "MJPG"
    assert settings["locked"] is False
    assert "asked for 640x480, the driver set 1920x1080" in settings["warning"]
    assert "left automatic (the FFMPEG backend" in settings["warning"]


def test_v4l2_frame_size_request_matches_the_kernel_header(tmp_path):
    # linux/videodev2.h: #define VIDIOC_ENUM_FRAMESIZES _IOWR('V', 74, struct v4l2_frmsizeenum) = 0xc02c564a
    assert v4l2.FRMSIZEENUM.size == 44
    assert v4l2.VIDIOC_ENUM_FRAMESIZES == 0xC02C564A
    assert v4l2.fourcc(0x47504A4D) == "MJPG" and v4l2.fourcc(0x56595559) == "YUYV"
    assert v4l2.device_path(2) == "/dev/video2" and v4l2.device_path("/dev/video0") == "/dev/video0"
    plain = tmp_path / "not-a-camera"
    plain.write_bytes(b"\0" * 64)
    assert v4l2.frame_sizes(str(plain), 0x47504A4D) == []  # the real ioctl: ENOTTY
    assert v4l2.frame_sizes(str(tmp_path / "video97"), 0x47504A4D) == []


def test_capture_size_option():
    assert parse_size("640x480") == (640, 480) and parse_size(" 320X240 ") == (320, 240)
    for bad in ("640", "640x", "x480", "0x480", "640x-1", "big"):
        with pytest.raises(UsageError, match="--capture-size must be WIDTHxHEIGHT"):
            parse_size(bad)
    done = run_edge_all("capture-and-classify", "--model", "m.tflite", "--capture-size", "640", timeout=60)
    assert done.returncode == 2 and "--capture-size must be WIDTHxHEIGHT" in done.stderr


def test_the_frame_request_covers_the_model_and_the_quality_gate(tmp_path):
    request = CaptureRequest(model=ModelChoice(tmp_path), capture_size=(640, 480), settle_frames=7)
    assert frame_request(request, (224, 224)) == FrameRequest((224, 224), (640, 480), False, True, 7)
    # A small model: the quality gate still needs its 224-pixel copy; without the gate it does not.
    assert frame_request(request, (64, 64)).min_size == (224, 224)
    ungated = CaptureRequest(
        model=ModelChoice(tmp_path), options=CaptureOptions(quality=None, save_frames=tmp_path)
    )
    assert frame_request(ungated, (64, 96)) == FrameRequest((96, 64), None, True, True, 30)


def test_run_capture_classifies_small_frames_and_saves_full_ones(tmp_path, hd_video, int8_bundle):
    request = CaptureRequest(
        model=ModelChoice(int8_bundle),
        camera=f"video:{hd_video}",
        db=tmp_path / "results.db",
        options=CaptureOptions(sample_id="HD", save_frames=tmp_path / "frames", frame_format="jpeg"),
    )
    result = run_capture(request)
    assert result.ok and result.frames == 3
    with ResultsStore.open(tmp_path / "results.db", create=False) as store:
        rows = list(store.captures(session_id=result.session_id))
        session = store.session(result.session_id)
    assert session["camera_settings"] is None
    assert all(row["status"] in ("classified", "uncertain", "referred") for row in rows), rows
    for row in rows:
        with Image.open(row["image_path"]) as saved:
            assert saved.size == (1920, 1080)
