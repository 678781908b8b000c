"""Frame sources against real files: OpenCV videos, a watched folder, missing cameras."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edge_all.capture.folder_source import FolderSource, is_temporary
from edge_all.capture.sources import EndOfSource, SourceUnavailable, bgr_to_rgb
from edge_all.capture.spec import SourceSpecError, parse_source
from tests.cli_runner import REPO, python_with

from .helpers import save_images, write_video

pytest.importorskip("cv2")


def read_all(source, limit: int = 100) -> list:
    """Every frame of a video source, up to `limit` (a video always has its next frame ready)."""
    frames = []
    while len(frames) < limit:
        try:
            frame = source.read()
        except EndOfSource:
            break
        assert frame is not None
        frames.append(frame)
    return frames


def test_video_frames_come_out_rgb_in_order(tmp_path, smear_frames):
    red, blue = np.zeros((224, 224, 3), np.uint8), np.zeros((224, 224, 3), np.uint8)
    red[..., 0], blue[..., 2] = 220, 220
    video = write_video(tmp_path / "a.avi", [red, blue, *smear_frames[:3]])
    with parse_source(f"video:{video}") as source:
        frames = read_all(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].rgb[..., 0].mean() > 180 and frames[0].rgb[..., 2].mean() < 40  # red stays red
    assert frames[1].rgb[..., 2].mean() > 180 and frames[1].rgb[..., 0].mean() < 40
    # MJPEG is lossy, but each frame is its own image.
    assert np.abs(frames[2].rgb.astype(int) - smear_frames[0]).mean() < 8
    assert frames[3].origin == f"video:{video}#3"


@pytest.mark.parametrize(
    ("layout", "frame"),
    [
        ("B,G,R (OpenCV, picamera2 RGB888)", [[[10, 20, 30], [40, 50, 60]]]),
        ("B,G,R,X (OpenCV BGRA, picamera2 XRGB8888)", [[[10, 20, 30, 255], [40, 50, 60, 0]]]),
    ],
)
def test_camera_colour_orders_become_rgb(layout, frame):
    bgr = np.array(frame, np.uint8)
    rgb = bgr_to_rgb(bgr)
    assert rgb.tolist() == [[[30, 20, 10], [60, 50, 40]]], layout
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    rgb[0, 0] = 0
    assert bgr[0, 0, 0] == 10  # a copy: the camera's buffer may be reused for the next frame


def test_a_grayscale_camera_frame_becomes_three_equal_channels():
    gray = np.array([[7, 200], [0, 255]], np.uint8)
    rgb = bgr_to_rgb(gray)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    assert rgb.tolist() == [[[7, 7, 7], [200, 200, 200]], [[0, 0, 0], [255, 255, 255]]]


def test_missing_or_broken_video_is_unavailable(tmp_path):
    with pytest.raises(SourceUnavailable, match="no such file"):
        parse_source(f"video:{tmp_path / 'none.avi'}").open()
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(SourceUnavailable, match="cannot be read as a video"):
        parse_source(f"video:{junk}").open()


def test_missing_cameras_fail_with_one_line(tmp_path):
    with pytest.raises(SourceUnavailable, match="does not exist") as missing:
        parse_source("/dev/video97").open()
    assert "\n" not in str(missing.value)
    with pytest.raises(SourceUnavailable, match="cannot be opened"):
        parse_source("opencv:97").open()


def test_picamera2_without_the_library_says_how_to_install_it():
    try:
        import picamera2  # noqa: F401

        pytest.skip("picamera2 is installed here")
    except ImportError:
        pass
    with pytest.raises(SourceUnavailable, match="picamera2 is not installed"):
        parse_source("picamera2").open()


def test_every_kind_of_source_parses_without_opencv_or_picamera2():
    """The spec table builds each source without importing its camera library (that waits for open())."""
    done = python_with(
        """
        from edge_all.capture.spec import SOURCE_KINDS, parse_source
        specs = ["picamera2", "picamera2:1", "opencv:0", "/dev/video2", "video:a.avi", "folder:drop"]
        built = [parse_source(spec) for spec in specs]
        print([(source.spec, type(source).__name__) for source in built])
        print(sorted(SOURCE_KINDS), [m for m in ("cv2", "picamera2") if m in sys.modules])
        """,
        blocked=("cv2", "picamera2"),
    )
    assert done.returncode == 0, done.stderr
    built, kinds = done.stdout.splitlines()
    assert built == str(
        [
            ("picamera2", "PiCamera"),
            ("picamera2:1", "PiCamera"),
            ("opencv:0", "OpenCVCamera"),
            ("/dev/video2", "OpenCVCamera"),
            ("video:a.avi", "VideoFile"),
            (f"folder:{REPO / 'drop'}", "FolderSource"),  # known by its resolved path
        ]
    )
    assert kinds == "['folder', 'opencv', 'picamera2', 'video'] []"


@pytest.mark.parametrize("spec", ["webcam", "video:", "folder:", "picamera2:x", "opencv:"])
def test_unknown_source_specs_are_refused(spec):
    with pytest.raises(SourceSpecError, match="unknown camera source"):
        parse_source(spec)


class Clock:
    """The clock a FolderSource measures settle_seconds with, stepped by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_folder_takes_each_settled_image_once_including_late_arrivals(tmp_path, smear_frames):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:2])
    (folder / ".field-009.png").write_bytes(b"half")  # camera software's temp name
    (folder / "field-010.png.part").write_bytes(b"half")
    (folder / "notes.txt").write_text("not an image")
    clock = Clock()
    source = FolderSource("folder:x", folder, settle_seconds=1.0, clock=clock)
    source.open()
    assert source.read() is None  # first seen now
    clock.advance(0.999)
    assert source.read() is None  # not yet unchanged for a whole second
    clock.advance(0.001)
    first = [source.read(), source.read()]
    assert sorted(f.file.name for f in first) == ["field-000.png", "field-001.png"]
    assert source.read() is None  # the temporary names and the text file are never taken
    Image.fromarray(smear_frames[2]).save(folder / "late.png")
    assert source.read() is None
    clock.advance(1.0)
    late = source.read()
    assert late.file.name == "late.png" and np.array_equal(late.rgb, smear_frames[2])
    clock.advance(60.0)
    assert source.read() is None and source.read() is None  # nothing is handed out twice


def test_folder_waits_for_a_file_being_written(tmp_path, smear_frames):
    folder = tmp_path / "drop"
    folder.mkdir()
    Image.fromarray(smear_frames[0]).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    clock = Clock()
    source = FolderSource("folder:x", folder, settle_seconds=0.5, clock=clock)
    source.open()
    step = len(data) // 4 + 1
    with open(folder / "slow.png", "wb") as handle:  # a writer that trickles the file in
        for start in range(0, len(data), step):
            handle.write(data[start : start + step])
            handle.flush()
            assert source.read() is None  # changed since the last look: it has to settle again
            clock.advance(10.0)  # however long the writer pauses between pieces
    frame = source.read()  # unchanged for 10 s since the last piece
    assert frame.error is None and np.array_equal(frame.rgb, smear_frames[0])


def test_folder_reports_a_broken_image_as_an_error_frame(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    source = FolderSource("folder:x", folder, settle_seconds=0.0, clock=Clock())
    source.open()
    assert source.read() is None  # first seen
    frame = source.read()
    assert frame.rgb is None and "broken.jpg" in frame.error and frame.file == folder / "broken.jpg"


def test_folder_that_disappears_is_unavailable_until_it_returns(tmp_path, smear_frames):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:1])
    clock = Clock()
    source = FolderSource("folder:x", folder, settle_seconds=0.0, clock=clock)
    source.open()
    assert source.read() is None and source.read().file.name == "field-000.png"
    folder.rename(tmp_path / "away")
    with pytest.raises(SourceUnavailable, match="disappeared"):
        source.read()
    with pytest.raises(SourceUnavailable, match="no such folder"):
        source.open()
    (tmp_path / "away").rename(folder)
    source.open()
    clock.advance(60.0)
    assert source.read() is None and source.read() is None  # the first image is not taken again


@pytest.mark.parametrize(
    ("name", "temporary"),
    [
        (".x.png", True),
        ("~x.png", True),
        ("x.png.tmp", True),
        ("x.PART", True),
        ("x.png~", True),
        ("x.png", False),
    ],
)
def test_temporary_names(name, temporary):
    assert is_temporary(name) is temporary
