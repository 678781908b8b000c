"""The Raspberry Pi camera source, driven by a STAND-IN for picamera2 (no Pi camera exists here).

tests/capture/picamera2_standin.py is not picamera2: it is written from the picamera2 manual and
picamera2's source and behaves as they document (configurations, stream formats as laid out in
memory, the Pi 4's YUV-only lores stream, metadata, controls, errors). These tests show that
edge-all's source asks for the right streams, converts every format it can be given to the right
colours, keeps the field of view, settles and locks exposure, records what it did, and turns
every failure into SourceUnavailable. What happens on a real camera is untested (docs/capture.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from edge_all.capture.app import run_capture
from edge_all.capture.options import CaptureOptions, CaptureRequest
from edge_all.capture.picamera_source import PiCamera, stream_size, to_rgb
from edge_all.capture.sources import FrameRequest, SourceUnavailable
from edge_all.results.store import ResultsStore
from edge_all.runtime.benchmark import synthetic_smear
from edge_all.runtime.choice import ModelChoice

from . import picamera2_standin as standin

MODEL_INPUT = FrameRequest(min_size=(224, 224))


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A smear filling the stand-in's sensor, with a red band at the left edge and a blue one at the
    right, so a frame that lost the edges of the field of view shows it."""
    height, width = standin.SENSOR[1], standin.SENSOR[0]
    image = synthetic_smear(np.random.default_rng(5), height, width)
    image[:, : width // 20] = (230, 20, 20)
    image[:, -width // 20 :] = (20, 20, 230)
    return image


def open_camera(request: FrameRequest = MODEL_INPUT) -> PiCamera:
    camera = PiCamera("picamera2", 0)
    camera.configure(request)
    camera.open()
    return camera


def expected(scene: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The whole field of view at `size` (what the frame should look like)."""
    return np.asarray(Image.fromarray(scene).resize(size, Image.Resampling.BILINEAR)).astype(int)


def test_model_sized_frames_from_the_main_stream_keep_the_field_of_view(monkeypatch, scene):
    world = standin.install(monkeypatch, standin.World(scene))
    camera = open_camera()
    try:
        frame = camera.read()
    finally:
        camera.close()
    (picam,) = world.opened
    config = picam.camera_configuration()
    assert config["use_case"] == "video" and config["lores"] is None
    assert config["main"]["format"] == "RGB888" and config["main"]["size"] == (320, 240)
    # The smallest sensor mode that reads the whole sensor, not the smaller cropped ones.
    assert config["sensor"]["output_size"] == (507, 380)
    assert frame.rgb.shape == (224, 299, 3) and frame.full is None  # 320x240, shrunk once
    assert frame.rgb[:, :5].mean(axis=(0, 1)).round().tolist() == pytest.approx([230, 20, 20], abs=6)
    assert frame.rgb[:, -5:].mean(axis=(0, 1)).round().tolist() == pytest.approx([20, 20, 230], abs=6)
    assert np.abs(frame.rgb.astype(int) - expected(scene, (299, 224))).mean() < 6
    assert picam.closed


@pytest.mark.parametrize(
    ("platform", "lores_format"), [(standin.Platform.VC4, "YUV420"), (standin.Platform.PISP, "RGB888")]
)
def test_saving_frames_reads_full_size_main_and_a_model_sized_lores(
    monkeypatch, scene, platform, lores_format
):
    """Pi 4 (VC4): lores must be YUV420 (converted here with the sYCC matrix); Pi 5 (PiSP): RGB."""
    world = standin.install(monkeypatch, standin.World(scene, platform=platform))
    camera = open_camera(FrameRequest(min_size=(224, 224), full_resolution=True))
    try:
        frames = [camera.read(), camera.read()]
    finally:
        camera.close()
    config = world.opened[0].camera_configuration()
    assert config["use_case"] == "still"
    assert (config["main"]["format"], config["main"]["size"]) == ("RGB888", standin.SENSOR)
    assert (config["lores"]["format"], config["lores"]["size"]) == (lores_format, (320, 240))
    assert config["sensor"]["output_size"] == standin.SENSOR
    for frame in frames:
        assert frame.full.shape == (standin.SENSOR[1], standin.SENSOR[0], 3)
        assert np.array_equal(frame.full, scene)  # the full frame, B,G,R in memory, back to R,G,B
        assert frame.to_save is frame.full
        assert frame.rgb.shape == (224, 299, 3)
        assert np.abs(frame.rgb.astype(int) - expected(scene, (299, 224))).mean() < 6
    assert [f.index for f in frames] == [0, 1]


def test_a_format_libcamera_adjusted_is_converted_by_what_picamera2_reports(monkeypatch, scene):
    """libcamera may adjust a requested format: the source converts by the one configured (4 channels)."""
    world = standin.install(monkeypatch, standin.World(scene, adjust_main_format="XRGB8888"))
    camera = open_camera()
    try:
        frame = camera.read()
    finally:
        camera.close()
    assert world.opened[0].camera_configuration()["main"]["format"] == "XRGB8888"
    assert frame.rgb.shape == (224, 299, 3)
    assert np.abs(frame.rgb.astype(int) - expected(scene, (299, 224))).mean() < 6


@pytest.mark.parametrize("fmt", ["RGB888", "BGR888", "XRGB8888", "XBGR8888", "YUV420", "YVU420"])
@pytest.mark.parametrize(
    "colour_space",
    [standin.ColorSpace.Sycc(), standin.ColorSpace.Smpte170m(), standin.ColorSpace.Rec709()],
    ids=str,
)
def test_every_stream_format_comes_out_rgb(fmt, colour_space):
    rgb = np.repeat(np.repeat(np.random.default_rng(3).integers(0, 256, (60, 80, 3), np.uint8), 2, 0), 2, 1)
    array = standin.pack(rgb, fmt, colour_space)
    out = to_rgb(array, {"format": fmt, "size": (160, 120)}, colour_space)
    assert out.shape == (120, 160, 3) and out.flags.c_contiguous
    tolerance = 3 if fmt.startswith("YV") or fmt.startswith("YU") else 0
    assert np.abs(out.astype(int) - rgb).max() <= tolerance


def test_stream_sizes_cover_the_model_with_the_sensor_aspect():
    assert stream_size((4056, 3040), (224, 224), align=32) == (320, 240)  # HQ camera
    assert stream_size((4608, 2592), (224, 224), align=32) == (416, 234)  # Camera Module 3 (16:9)
    assert stream_size((4608, 2592), (224, 224), align=64) == (448, 252)
    assert stream_size((3280, 2464), (300, 300), align=64) == (448, 336)  # Camera Module 2
    assert stream_size((4056, 3040), None, align=32) == (4056, 3040)


def test_exposure_settles_then_locks_and_is_recorded(monkeypatch, scene):
    world = standin.install(monkeypatch, standin.World(scene))
    camera = open_camera(FrameRequest(min_size=(224, 224), settle_frames=40))
    camera.read()
    camera.close()
    picam = world.opened[0]
    assert picam.metadata_reads < 40  # it stopped as soon as the values held still
    (lock,) = picam.controls_set
    assert lock["AeEnable"] is False and lock["AwbEnable"] is False
    assert lock["ExposureTime"] == pytest.approx(20000, rel=0.03)
    assert lock["AnalogueGain"] == pytest.approx(2.0, rel=0.03)
    assert lock["ColourGains"] == pytest.approx((1.8, 1.5), rel=0.03)
    settings = camera.settings()
    assert settings["locked"] is True and settings["settled"] is True and "warning" not in settings
    assert settings["controls"]["ExposureTime"] == lock["ExposureTime"]
    assert settings["stream"] == {"name": "main", "format": "RGB888", "size": [320, 240]}
    assert settings["metadata"]["ColourTemperature"] == 4500

    # The camera drops out and comes back mid-slide: the same exposure, without settling again.
    camera.open()
    camera.close()
    again = world.opened[1]
    assert again.controls_set == [lock] and again.metadata_reads == 0
    assert camera.settings()["controls"] == settings["controls"]


def test_exposure_that_never_settles_is_locked_with_a_warning(monkeypatch, scene):
    world = standin.install(monkeypatch, standin.World(scene, settles=False))
    camera = open_camera(FrameRequest(min_size=(224, 224), settle_frames=12))
    camera.close()
    assert world.opened[0].metadata_reads == 12
    settings = camera.settings()
    assert settings["locked"] is True and settings["settled"] is False
    assert "exposure still changing after 12 frames" in settings["warning"]


def test_no_lock_exposure_leaves_the_camera_automatic(monkeypatch, scene):
    world = standin.install(monkeypatch, standin.World(scene))
    camera = open_camera(FrameRequest(min_size=(224, 224), lock_exposure=False))
    camera.close()
    assert world.opened[0].controls_set == [] and world.opened[0].metadata_reads == 0
    assert camera.settings()["locked"] is False


def test_failures_are_source_unavailable_with_one_line(monkeypatch, scene):
    standin.install(monkeypatch, standin.World(scene, cameras=0))
    with pytest.raises(SourceUnavailable, match="no Raspberry Pi camera found"):
        open_camera()

    world = standin.install(monkeypatch, standin.World(scene, fail_start=True))
    with pytest.raises(SourceUnavailable, match="cannot be started .*Device or resource busy") as started:
        open_camera()
    assert world.opened[0].closed  # released for the next attempt
    assert "\n" not in str(started.value)

    world = standin.install(monkeypatch, standin.World(scene))
    camera = open_camera()
    world.fail_capture = True
    with pytest.raises(SourceUnavailable, match="capture failed") as failed:
        camera.read()
    assert "\n" not in str(failed.value)
    camera.close()
    with pytest.raises(SourceUnavailable, match="not open"):
        camera.read()


def test_a_capture_records_the_locked_camera_settings(monkeypatch, scene, tmp_path, int8_bundle):
    """run_capture asks the camera for model-sized frames and keeps its settings in the session row."""
    standin.install(monkeypatch, standin.World(scene))
    request = CaptureRequest(
        model=ModelChoice(int8_bundle),
        camera="picamera2",
        db=tmp_path / "results.db",
        options=CaptureOptions(sample_id="S1", count=2, interval=0.0, save_frames=tmp_path / "frames"),
    )
    result = run_capture(request)
    assert result.ok and result.frames == 2
    with ResultsStore.open(tmp_path / "results.db", create=False) as store:
        session = store.session(result.session_id)
        rows = list(store.captures(session_id=result.session_id))
    settings = json.loads(session["camera_settings"])
    assert settings["locked"] is True and settings["stream"]["name"] == "lores"
    assert settings["full_stream"]["size"] == list(standin.SENSOR)
    with Image.open(rows[0]["image_path"]) as saved:  # --save-frames keeps the full-size frame
        assert saved.size == standin.SENSOR
