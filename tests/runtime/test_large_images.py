"""Large pictures are read in bounded memory, and a picture read smaller says by how much.

At most MAX_DECODED_PIXELS (4096x4096) are decoded: a JPEG larger than that is decoded at 1/2, 1/4
or 1/8 of its size (draft mode), and read_image returns the reduction with the pixels, so the scale
code (micrometres per pixel) stays right; any other file larger than that is refused. A real field
is never touched: a 1440x900 frame resampled x3 (11.7 Mpixels) is decoded whole, in any format.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from edge_all.cells.scale import ScaleEstimate
from edge_all.runtime.images import (
    MAX_DECODED_PIXELS,
    DecodedImage,
    ImageError,
    load_rgb,
    open_image,
    read_image,
)

FIELD = (1440 * 3, 900 * 3)  # a camera field resampled x3 to the bundle's scale: 11.7 Mpixels


def noise(width: int, height: int) -> Image.Image:
    """Tiled coloured noise: a realistic file size, quick to make at tens of megapixels."""
    tile = np.random.default_rng(1).integers(100, 250, size=(128, 128, 3), dtype=np.uint8)
    return Image.fromarray(np.tile(tile, (-(-height // 128), -(-width // 128), 1))[:height, :width])


def test_a_real_field_resampled_x3_is_decoded_whole_in_every_format(tmp_path):
    assert FIELD[0] * FIELD[1] <= MAX_DECODED_PIXELS
    image = noise(*FIELD)
    for suffix, options in ((".png", {"compress_level": 1}), (".jpg", {"quality": 90}), (".bmp", {})):
        path = tmp_path / f"field{suffix}"
        image.save(path, **options)
        decoded = read_image(path)
        assert (decoded.reduction, decoded.image.size, decoded.stored_size) == (1, FIELD, FIELD), suffix


def test_a_draft_decoded_jpeg_reports_its_reduction_and_keeps_its_scale(tmp_path):
    path = tmp_path / "big.jpg"
    noise(8000, 6000).save(path, quality=90)  # 48 Mpixels: decoded at half size, 12 Mpixels
    decoded = read_image(path)
    assert isinstance(decoded, DecodedImage)
    assert decoded.reduction == 2
    assert decoded.stored_size == (8000, 6000) and decoded.image.size == (4000, 3000)
    assert decoded.image.mode == "RGB"
    # each decoded pixel covers 2x2 pixels of the file: twice its micrometres per pixel
    assert ScaleEstimate.given(0.25).reduced(decoded.reduction).um_per_px == 0.5
    assert open_image(path).size == (4000, 3000) and load_rgb(path).shape == (3000, 4000, 3)


def test_the_reduction_is_the_smallest_that_fits(tmp_path):
    path = tmp_path / "strip.jpg"
    noise(16000, 3000).save(path, quality=80)  # 48 Mpixels, but 1/2 gives 12 Mpixels: enough
    assert read_image(path).reduction == 2
    noise(40000, 1600).save(path, quality=80)  # 64 Mpixels: 1/2 gives 16 Mpixels, just within
    assert read_image(path).reduction == 2


def test_a_turned_jpeg_is_turned_upright_after_its_reduction(tmp_path):
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    noise(8000, 6000).save(path, quality=85, exif=exif)
    decoded = read_image(path)
    assert decoded.reduction == 2 and decoded.stored_size == (8000, 6000)
    assert decoded.image.size == (3000, 4000)  # upright


def test_a_png_too_large_to_decode_is_refused_in_one_line(tmp_path):
    path = tmp_path / "big.png"
    noise(4096, 4097).save(path, compress_level=1)
    with pytest.raises(ImageError, match=r"4096x4097 pixels is too large to decode \(limit 16,777,216 "):
        read_image(path)


def test_a_progressive_jpeg_whose_coefficients_would_not_fit_is_refused(tmp_path):
    from PIL import ImageFile

    ImageFile.MAXBLOCK = max(ImageFile.MAXBLOCK, 1 << 28)  # what Pillow needs to save one this big
    buffer = io.BytesIO()
    noise(7000, 7000).save(buffer, format="JPEG", quality=80, progressive=True, subsampling=0)
    path = tmp_path / "progressive.jpg"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ImageError, match=r"a progressive JPEG of 7000x7000 pixels needs 280 MiB to decode"):
        read_image(path)
