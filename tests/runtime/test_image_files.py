"""Every kind of image a clinic can hand over becomes 8-bit RGB, or one ImageError naming the file.

Pure Pillow and numpy: no model, so `make mutation` runs these for every mutant of edge_all/runtime/images.py.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from edge_all.runtime.images import (
    MAX_DECODED_PIXELS,
    MAX_PIXELS,
    ImageError,
    Preprocessing,
    load_rgb,
    open_image,
    prepare,
    resize_rgb,
)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds no pixels: enough for Pillow to read the size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def error_of(path) -> str:
    with pytest.raises(ImageError) as raised:
        open_image(path)
    return str(raised.value)


def test_files_that_are_not_images_are_named_with_the_problem(tmp_path):
    assert error_of(tmp_path / "gone.png") == f"{tmp_path / 'gone.png'}: no such file"
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, not an image"
    (tmp_path / "empty.png").write_bytes(b"")
    assert error_of(tmp_path / "empty.png") == f"{tmp_path / 'empty.png'}: empty file"
    (tmp_path / "notes.png").write_text("not a picture")
    assert (
        error_of(tmp_path / "notes.png")
        == f"{tmp_path / 'notes.png'}: not an image file (format not recognised)"
    )
    Image.new("RGB", (64, 64), (200, 10, 10)).save(tmp_path / "whole.jpg", quality=90)
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "whole.jpg").read_bytes()[:300])
    assert error_of(tmp_path / "cut.jpg").startswith(
        f"{tmp_path / 'cut.jpg'}: unreadable or truncated image ("
    )


def test_a_huge_declared_size_is_refused_before_decoding(tmp_path):
    side = int(MAX_PIXELS**0.5) + 1  # just over the limit
    (tmp_path / "bomb.png").write_bytes(png_header(side, side))
    assert error_of(tmp_path / "bomb.png") == (
        f"{tmp_path / 'bomb.png'}: {side}x{side} pixels is too large "
        f"(limit {MAX_PIXELS:,}; possible decompression bomb)"
    )
    assert MAX_PIXELS == 64_000_000


def test_a_size_past_pillows_own_limit_is_one_line_too(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header(20_000, 20_000))
    assert (
        error_of(tmp_path / "bomb.png")
        == f"{tmp_path / 'bomb.png'}: too many pixels (possible decompression bomb)"
    )


def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "frame.png")
    assert (
        error_of(tmp_path / "frame.png")
        == f"{tmp_path / 'frame.png'}: image is a FIFO (named pipe), not a regular file"
    )


def test_a_frame_at_the_decoded_limit_is_not_refused_for_its_size(tmp_path):
    (tmp_path / "edge.png").write_bytes(png_header(4096, MAX_DECODED_PIXELS // 4096))  # exactly the limit
    message = error_of(tmp_path / "edge.png")  # no pixel data: fails later, for that reason
    assert "too large" not in message and "decompression bomb" not in message


def test_a_png_over_the_decoded_limit_is_refused_before_decoding(tmp_path):
    """Only a JPEG can be decoded smaller; any other file over 4096x4096 is refused, saying so."""
    (tmp_path / "big.png").write_bytes(png_header(8000, 8000))  # at the file limit, over the decoded one
    assert error_of(tmp_path / "big.png") == (
        f"{tmp_path / 'big.png'}: 8000x8000 pixels is too large to decode (limit 16,777,216 pixels, "
        "4096x4096; only a JPEG is read at reduced size, up to 64,000,000)"
    )
    assert MAX_DECODED_PIXELS == 4096 * 4096


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("I;16", 65535, 255),  # 16-bit: scaled down to 8 bits
        ("I;16", 1000, 3),  # 1000 of 65535 is 3.9 of 255 (Pillow's own conversion would clip it to 255)
        ("I;16", 200, 200),  # a 16-bit file holding 8-bit values is kept as it is
        ("I;16B", 1000, 3),
        ("I;16L", 1000, 3),
        ("I;16N", 1000, 3),
        ("I", 255, 255),  # at most 255: 8-bit values, not scaled
        ("I", 256, 0),  # 256 of 65535 is 0.996 of 255: truncated to 0
        ("I", 70_000, 255),  # beyond 16 bits: clipped, not wrapped round
        ("F", 100.7, 100),
        ("F", -5.0, 0),  # negative: clipped, not wrapped round to 251
        ("L", 77, 77),
        ("1", 1, 255),
    ],
    ids=[
        "16-max",
        "16-low",
        "16-8bit",
        "16B",
        "16L",
        "16N",
        "I-255",
        "I-256",
        "I-over",
        "F",
        "F-neg",
        "L",
        "1",
    ],
)
def test_any_mode_becomes_8_bit_rgb(mode, value, expected):
    pixels = load_rgb(Image.new(mode, (4, 3), value))
    assert pixels.shape == (3, 4, 3) and pixels.dtype == np.uint8
    assert (pixels == expected).all(), (mode, pixels[0, 0])


@pytest.mark.parametrize(("mode", "suffix"), [("I;16", "tif"), ("F", "tif"), ("L", "png"), ("1", "png")])
def test_files_of_any_mode_are_read_as_rgb(tmp_path, mode, suffix):
    Image.new(mode, (4, 3), 1).save(tmp_path / f"frame.{suffix}")
    pixels = np.asarray(open_image(tmp_path / f"frame.{suffix}"))
    assert pixels.shape == (3, 4, 3) and pixels.dtype == np.uint8


def test_nan_and_minus_infinity_are_black_in_an_8_bit_float_frame():
    array = np.array([[np.nan, -np.inf, 100.0]], dtype=np.float32)
    assert load_rgb(Image.fromarray(array, mode="F"))[0, :, 0].tolist() == [0, 0, 100]


def test_a_float_frame_with_nan_and_infinity_is_clipped_not_an_error():
    array = np.array([[np.nan, np.inf, -np.inf, 300.0]], dtype=np.float32)
    pixels = load_rgb(Image.fromarray(array, mode="F"))
    assert pixels[0, :, 0].tolist() == [0, 255, 0, 1]  # inf is 65535: the frame scales down


def test_a_palette_with_transparency_is_composited_on_white():
    """It used to read transparent pixels as the palette colour under them (10, 20, 30 here), a dark
    blot where a slide is white: now every transparent pixel is the slide's white background
    (docs/reliability.md; every mode: tests/runtime/test_transparency.py)."""
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = b"\x00\xff"  # Pillow warns when such a palette goes straight to RGB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_rgb(image).tolist() == [[[255, 255, 255], [200, 100, 50]]]
    rgba = Image.new("RGBA", (1, 1), (9, 8, 7, 0))
    assert load_rgb(rgba).tolist() == [[[255, 255, 255]]]


def test_every_mode_pillow_has_becomes_rgb():
    """La (premultiplied grey and alpha), which Pillow cannot convert to RGB, was an ImageError; it is
    composited on white like every mode with alpha."""
    assert load_rgb(Image.new("La", (2, 2), (100, 128))).tolist() == [[[227] * 3] * 2] * 2


def test_arrays_are_taken_as_rgb_or_refused():
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert np.array_equal(load_rgb(gray), np.repeat(gray[:, :, None], 3, axis=2))
    rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    rgb = load_rgb(rgba)
    assert np.array_equal(rgb, rgba[:, :, :3]) and rgb.flags.c_contiguous
    with pytest.raises(ImageError, match=r"^<ndarray>: expected a uint8 array, got float32$"):
        load_rgb(np.zeros((2, 2, 3), np.float32))
    for shape in [(2, 2, 2), (2, 2, 5), (0, 2, 3), (2, 2, 3, 1)]:
        expected = f"<ndarray>: expected an HxWx3 RGB array, got shape {shape}"
        with pytest.raises(ImageError, match=f"^{re.escape(expected)}$"):
            load_rgb(np.zeros(shape, np.uint8))
    with pytest.raises(ImageError, match=r"^<list>: unsupported image type$"):
        load_rgb([1, 2])


def test_paths_may_be_strings(tmp_path):
    Image.new("RGB", (5, 4), (1, 2, 3)).save(tmp_path / "a.png")
    assert load_rgb(str(tmp_path / "a.png")).shape == (4, 5, 3)
    assert prepare(tmp_path / "a.png", 2, 2).tolist() == [[[1, 2, 3]] * 2] * 2
    stripes = np.zeros((2, 4, 3), np.uint8)
    stripes[:, 0] = 255  # the left column: cropped away by the centre crop, kept when stretched
    assert prepare(stripes, 2, 2, Preprocessing(resize="area", crop="none"))[0, 0].tolist() == [128] * 3
    assert prepare(stripes, 2, 2, Preprocessing(resize="area"))[0, 0].tolist() == [0] * 3


def test_a_one_pixel_wide_crop_keeps_the_middle_pixel():
    row = np.arange(10, dtype=np.uint8).repeat(3).reshape(1, 10, 3) * 20
    # 1x10 to a 10x1 model: the centre crop is the one middle column (of 1/10 the width), stretched.
    assert resize_rgb(row, 10, 1, Preprocessing(resize="nearest"))[:, 0, 0].tolist() == [80] * 10
    column = row.transpose(1, 0, 2)
    assert resize_rgb(column, 1, 10, Preprocessing(resize="nearest"))[0, :, 0].tolist() == [80] * 10


def test_preprocessing_reads_back_and_refuses_what_the_device_cannot_do():
    assert Preprocessing.from_dict({}) == Preprocessing("RGB", "bilinear", "center")
    recorded = Preprocessing(resize="area", crop="none")
    assert recorded.to_dict() == {"color_order": "RGB", "resize": "area", "crop": "none"}
    assert Preprocessing.from_dict(recorded.to_dict()) == recorded
    for key, value, problem in [
        ("color_order", "BGR", "preprocessing: color_order: unsupported colour order 'BGR' (only RGB)"),
        ("resize", "lanczos", "preprocessing: resize: unsupported resize method 'lanczos'"),
        ("crop", "top", "preprocessing: crop: unsupported crop 'top'"),
        ("crop", 3, "preprocessing: crop: expected a string, got an integer"),
    ]:
        with pytest.raises(ValueError) as raised:
            Preprocessing.from_dict({key: value})
        assert str(raised.value) == problem
