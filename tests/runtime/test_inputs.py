"""Command-line PATH arguments: files, folders, globs, and the problems they can hide."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import ImageError
from edge_all.runtime.inputs import expand_inputs

from .conftest import write_bad_inputs


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_recurse_in_sorted_order_and_skip_non_images(tmp_path):
    b = _touch(tmp_path / "slides" / "b.png")
    a = _touch(tmp_path / "slides" / "a.JPG")
    deep = _touch(tmp_path / "slides" / "day2" / "c.jpeg")
    _touch(tmp_path / "slides" / "labels.txt")
    _touch(tmp_path / "slides" / ".hidden" / "d.png")
    found = expand_inputs([str(tmp_path / "slides")])
    assert found.files == [a, b, deep]
    assert found.problems == []


def test_globs_explicit_files_and_duplicates(tmp_path):
    a = _touch(tmp_path / "a.png")
    b = _touch(tmp_path / "sub" / "b.png")
    readme = _touch(tmp_path / "README")
    found = expand_inputs([str(tmp_path / "**" / "*.png"), str(a), str(readme)])
    assert found.files == [a, b, readme]  # a named file is tried whatever its name; a is listed once


def test_problems_are_reported_once_per_path_and_the_rest_goes_on(tmp_path):
    good = _touch(tmp_path / "good.png")
    (tmp_path / "x.jpg").mkdir()
    found = expand_inputs(
        [str(tmp_path / "missing.png"), str(tmp_path / "*.tif"), str(tmp_path / "x.jpg"), str(tmp_path)]
    )
    assert found.files == [good]
    messages = [message for _, message in found.problems]
    assert messages == [
        f"{tmp_path / 'missing.png'}: no such file or directory",
        f"{tmp_path / '*.tif'}: no files match this pattern",
        f"{tmp_path / 'x.jpg'}: is a directory, not an image",
    ]


def test_every_bad_file_is_one_clear_image_error(tiny_models, tmp_path):
    classifier = Classifier.load(tiny_models.uint8_io, labels=tiny_models.labels)
    expected = write_bad_inputs(tmp_path)
    for name, fragment in expected.items():
        with pytest.raises(ImageError) as error:
            classifier.predict(tmp_path / name)
        message = str(error.value)
        assert message.startswith(f"{tmp_path / name}: ") and fragment in message
        assert "\n" not in message
    with pytest.raises(ImageError, match="no such file"):
        classifier.predict(tmp_path / "absent.png")
    with pytest.raises(ImageError, match="uint8"):
        classifier.predict(np.zeros((8, 8, 3), np.float32))


def test_odd_image_modes_become_rgb(tiny_models, tmp_path):
    from PIL import Image

    classifier = Classifier.load(tiny_models.float32, labels=tiny_models.labels)
    red = np.zeros((30, 40, 3), np.uint8)
    red[..., 0] = 230
    Image.fromarray(red).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(red).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(red).save(tmp_path / "red.jpg")
    for name in ("palette.png", "rgba.png", "red.jpg"):
        assert classifier.predict(tmp_path / name).label == "red", name
    # 16-bit grayscale is scaled to 8 bits, not clipped: a mid-grey stays mid-grey, all channels equal.
    Image.fromarray(np.full((30, 40), 30000, np.uint16)).save(tmp_path / "gray16.png")
    pixels = classifier.prepare(tmp_path / "gray16.png")
    assert pixels.shape == (24, 40, 3) and 100 < pixels.mean() < 140 and np.ptp(pixels) == 0
