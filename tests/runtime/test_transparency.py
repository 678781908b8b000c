"""Every picture with transparency is composited on white, the slide's background, in one place
(edge_all/runtime/images.py), whatever mode Pillow gives it: P with tRNS, PA, LA, La, RGBA, RGBa,
and L, RGB or 16-bit grey with a transparent colour key. A transparent pixel used to be read as the
colour stored under it (often black), a dark blot the quality gate and the model took for stain.

Each case is a 2x1 picture: pixel 0 fully transparent over a dark colour, pixel 1 opaque; read from
memory, and from each file format that keeps that mode (checked: Pillow reads the file back in it).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edge_all.runtime.images import load_rgb, open_image

DARK, COLOUR = (10, 20, 30), (200, 100, 50)
WHITE = (255, 255, 255)  # a slide's background


def palette(mode: str) -> Image.Image:
    image = Image.new(mode, (2, 1))
    image.putpalette([*DARK, *COLOUR] + [0] * 762)
    return image


def p_with_trns() -> Image.Image:
    image = palette("P")
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 0  # palette index 0 is transparent
    return image


def pa() -> Image.Image:
    image = palette("PA")
    image.putpixel((0, 0), (0, 0))
    image.putpixel((1, 0), (1, 255))
    return image


def two(mode: str, transparent: object, opaque: object, key: object = None) -> Image.Image:
    image = Image.new(mode, (2, 1))
    image.putpixel((0, 0), transparent)
    image.putpixel((1, 0), opaque)
    if key is not None:
        image.info["transparency"] = key
    return image


CASES = {  # mode: (the picture, the opaque pixel as RGB, the file formats that keep that mode)
    "P+tRNS": (p_with_trns, COLOUR, ["png", "gif"]),
    "PA": (pa, COLOUR, []),
    "LA": (lambda: two("LA", (10, 0), (200, 255)), (200,) * 3, ["png", "tif"]),
    "La": (lambda: two("La", (0, 0), (200, 255)), (200,) * 3, []),
    "RGBA": (lambda: two("RGBA", (*DARK, 0), (*COLOUR, 255)), COLOUR, ["png", "tif", "webp"]),
    "RGBa": (lambda: two("RGBa", (0, 0, 0, 0), (*COLOUR, 255)), COLOUR, []),
    "L+key": (lambda: two("L", 10, 200, key=10), (200,) * 3, ["png"]),
    "RGB+key": (lambda: two("RGB", DARK, COLOUR, key=DARK), COLOUR, ["png"]),
    "I;16+key": (lambda: two("I;16", 1000, 65535, key=1000), (255,) * 3, ["png"]),
}


@pytest.mark.parametrize("case", CASES)
def test_transparent_pixels_are_white_from_memory(case):
    make, opaque, _ = CASES[case]
    assert make().has_transparency_data
    assert load_rgb(make()).tolist() == [[list(WHITE), list(opaque)]]


FILES = [(case, fmt) for case, (_, _, formats) in CASES.items() for fmt in formats]


@pytest.mark.parametrize(("case", "fmt"), FILES, ids=[f"{case}-{fmt}" for case, fmt in FILES])
def test_transparent_pixels_are_white_from_a_file(tmp_path, case, fmt):
    make, opaque, _ = CASES[case]
    image = make()
    path = tmp_path / f"field.{fmt}"
    options = {"lossless": True} if fmt == "webp" else {}
    image.save(path, **options)
    with Image.open(path) as stored:
        assert stored.mode in (image.mode, "I") and stored.has_transparency_data, stored.mode
    assert np.asarray(open_image(path)).tolist() == [[list(WHITE), list(opaque)]]


def test_half_transparent_pixels_are_blended_with_white():
    assert load_rgb(Image.new("RGBA", (1, 1), (0, 100, 200, 128))).tolist() == [[[127, 177, 227]]]
    assert load_rgb(Image.new("LA", (1, 1), (0, 51))).tolist() == [[[204] * 3]]


def test_a_four_channel_array_is_a_camera_frame_whose_padding_is_dropped_not_alpha():
    """XRGB8888 and BGRX frames carry a padding byte that is often 0: taken for alpha, every frame
    would be white. Arrays are camera frames; transparency comes in files and PIL images."""
    frame = np.zeros((2, 2, 4), np.uint8)
    frame[..., :3] = COLOUR  # padding 0
    assert load_rgb(frame).tolist() == [[list(COLOUR)] * 2] * 2
