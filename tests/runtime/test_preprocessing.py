"""Preprocessing checked against pixels: the centre crop and the EXIF rotation decide what a model sees.

Camera frames are 16:9 and phone or camera JPEGs are often stored sideways with an EXIF orientation
tag, so each test compares the exact pixels `resize_rgb`, `load_rgb` and `prepare` return with arrays
worked out here by hand (or by numpy), and the model-level tests use pictures whose answer changes
when the crop or the rotation is skipped.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import Preprocessing, load_rgb, prepare, resize_rgb
from tests.cli_runner import run_edge_all

from .conftest import HEIGHT, SQUARE, WIDTH

RED, GREEN = (230, 25, 25), (25, 230, 25)
EXIF_ORIENTATION = 0x0112
# What a viewer does to the stored pixels to show each orientation upright (EXIF 2.3, tag 274),
# written with numpy so the expectation does not come from the Pillow code under test.
UPRIGHT = {
    3: lambda stored: np.rot90(stored, 2),  # stored upside down
    6: lambda stored: np.rot90(stored, -1),  # stored turned 90 degrees anticlockwise: turn it clockwise
    8: lambda stored: np.rot90(stored, 1),  # stored turned 90 degrees clockwise: turn it anticlockwise
}


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Pixels that differ everywhere, so a crop one column off is seen."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def save_with_orientation(path, stored: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    # 4:4:4 chroma and quadrants on 8-pixel block edges: no colour bleeds across a quadrant edge.
    Image.fromarray(stored).save(path, "JPEG", quality=95, subsampling=0, exif=exif)


# ---- resize_rgb and prepare, pixel by pixel -------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "kept"),
    [
        ((90, 160, 3), (90, 90), np.s_[:, 35:125]),  # 16:9 camera frame to a square model: the middle columns
        ((160, 90, 3), (90, 90), np.s_[35:125, :]),  # portrait: the middle rows
        ((100, 100, 3), (50, 100), np.s_[25:75, :]),  # square to 2:1
        ((9, 16, 3), (9, 9), np.s_[:, 3:12]),  # odd margins round down on the left
        ((24, 40, 3), (24, 40), np.s_[:, :]),  # already the model's shape: untouched
    ],
)
def test_the_centre_crop_keeps_exactly_the_middle(shape, size, kept):
    frame = noise(*shape[:2])
    expected = frame[kept]
    assert expected.shape[:2] == size
    np.testing.assert_array_equal(resize_rgb(frame, *size), expected)
    np.testing.assert_array_equal(prepare(frame, *size), expected)


def test_crop_then_resize_averages_only_the_kept_pixels():
    # Two rows by four columns; the outer columns are white margins, the middle four pixels 10..40.
    frame = np.array(
        [[[255] * 3, [10] * 3, [20] * 3, [255] * 3], [[255] * 3, [30] * 3, [40] * 3, [255] * 3]], np.uint8
    )
    assert resize_rgb(frame, 1, 1).tolist() == [[[25, 25, 25]]]  # the mean of 10, 20, 30, 40
    stretched = resize_rgb(frame, 1, 1, Preprocessing(crop="none"))
    assert stretched[0, 0, 0] > 100  # without the crop the white margins weigh in


@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic", "area"])
def test_resize_after_the_crop_is_the_recorded_method(method):
    frame = noise(90, 160, seed=1)
    filters = {
        "bilinear": Image.Resampling.BILINEAR,
        "nearest": Image.Resampling.NEAREST,
        "bicubic": Image.Resampling.BICUBIC,
        "area": Image.Resampling.BOX,
    }
    cropped = Image.fromarray(np.ascontiguousarray(frame[:, 35:125])).resize((32, 32), filters[method])
    np.testing.assert_array_equal(
        resize_rgb(frame, 32, 32, Preprocessing(resize=method)), np.asarray(cropped)
    )
    whole = Image.fromarray(frame).resize((48, 27), filters[method])
    np.testing.assert_array_equal(
        resize_rgb(frame, 27, 48, Preprocessing(resize=method, crop="none")), np.asarray(whole)
    )


# ---- EXIF orientation ----------------------------------------------------------------------------


def quadrants(height: int, width: int) -> np.ndarray:
    """Four flat colours, one per quadrant: any turn or flip moves them somewhere else."""
    picture = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    picture[:h, :w], picture[:h, w:], picture[h:, :w], picture[h:, w:] = (
        RED,
        GREEN,
        (25, 25, 230),
        (230, 230, 25),
    )
    return picture


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_an_exif_rotated_jpeg_is_read_upright(tmp_path, orientation):
    stored = quadrants(48, 80)
    path = tmp_path / f"rotated-{orientation}.jpg"
    save_with_orientation(path, stored, orientation)
    expected = UPRIGHT[orientation](stored)
    assert not np.array_equal(expected, stored)
    for pixels in (load_rgb(path), load_rgb(Image.open(path))):  # a path, and a PIL image a caller opened
        assert pixels.shape == expected.shape
        # JPEG is lossy: each pixel stays within a few levels of its colour, far from any other quadrant's.
        assert np.abs(pixels.astype(int) - expected).max() < 40
        assert np.abs(pixels.astype(int) - expected).mean() < 3


# ---- what a model decides --------------------------------------------------------------------------


def widescreen_frame() -> np.ndarray:
    """A 16:9 frame: a greenish centre square between red margins that cover 44% of the frame.

    The centre alone is green to the colour model; the whole frame squeezed into a square is red.
    """
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[:, :] = (250, 0, 0)
    frame[:, 35:125] = (120, 150, 30)
    return frame


def sideways_jpeg(path) -> None:
    """A 5:3 picture, red at both sides and green in the middle, stored turned a quarter (EXIF 6).

    Upright it is mostly red. Read without the rotation it is a 3:5 portrait, and the centre crop to
    the 5:3 model keeps a band of its middle that is mostly green.
    """
    upright = np.zeros((96, 160, 3), np.uint8)
    upright[:, :] = RED
    upright[:, 56:104] = GREEN
    save_with_orientation(path, np.rot90(upright, 1), 6)


def test_a_square_bundle_sees_the_centre_of_a_widescreen_frame(square_bundle, tmp_path):
    classifier = Classifier.load(square_bundle)
    assert classifier.input_size == (SQUARE, SQUARE) and classifier.preprocessing.crop == "center"
    frame = widescreen_frame()
    np.testing.assert_array_equal(classifier.prepare(frame), np.full((SQUARE, SQUARE, 3), (120, 150, 30)))
    assert classifier.predict(frame).label == "green"
    # The same model as a plain .tflite (no recorded preprocessing) stretches the frame: the margins win.
    plain = Classifier.load(square_bundle / "model.tflite", labels=square_bundle / "labels.txt")
    assert plain.predict(frame).label == "red"


def test_an_exif_rotated_photo_is_classified_upright(tiny_bundle, tmp_path):
    path = tmp_path / "sideways.jpg"
    sideways_jpeg(path)
    classifier = Classifier.load(tiny_bundle)
    assert classifier.input_size == (HEIGHT, WIDTH)
    assert classifier.predict(path).label == "red"


def test_classify_crops_a_saved_camera_frame(square_bundle, tmp_path):
    """The same check through `edge-all classify`, as a technician runs it on a saved frame."""
    Image.fromarray(widescreen_frame()).save(tmp_path / "frame.png")
    # A colour chart has no stained cells: the quality gate would refuse it before any preprocessing.
    done = run_edge_all(
        "classify", "-m", square_bundle, "--no-quality-gate", "--json", tmp_path / "frame.png"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == "green"
