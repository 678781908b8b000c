"""Turn any image a clinic has into the 8-bit RGB pixels the model was trained on.

Training, conversion and the device all read images through this module, so the three can
never disagree on colour order, orientation or resizing.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from edge_all.errors import EdgeAllError
from edge_all.jsonfile import JsonObject
from edge_all.regular_files import open_regular

# A 224x224 smear image is 50 kpixels and a camera frame a few Mpixels; a file that says it is far
# larger is a decompression bomb or not a micrograph, and is refused before anything is decoded.
MAX_PIXELS = 64_000_000
# What is decoded at most, whatever the file says: 4096x4096 (16.8 Mpixels, 50 MB as RGB), which
# bounds the memory of reading one frame (docs/reliability.md: the peak, measured for each format).
# A real field fits: a 1440x900 frame resampled x3 to the bundle's scale is 11.7 Mpixels. A larger
# JPEG is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, Pillow's draft mode);
# any other larger file is refused, saying so.
MAX_DECODED_PIXELS = 4096 * 4096
JPEG_REDUCTIONS = (2, 4, 8)
DRAFT_FORMATS = ("JPEG", "MPO")
# A progressive JPEG is decoded from all its DCT coefficients at once (2 bytes each, at the file's
# full size whatever the reduction): at most 12 bytes per decoded pixel, 192 MiB, which admits a
# 4:2:0 JPEG up to 64 Mpixels and a 4:4:4 one up to 33.5.
MAX_COEFFICIENT_BYTES = 12 * MAX_DECODED_PIXELS
BAND_ROWS = 256  # a large frame is copied, widened and composited this many rows at a time

ImageSource = str | Path | Image.Image | np.ndarray
# What counts as an image file when a folder is searched: by training, classify and the folder source
# alike (a file named explicitly is always tried, whatever its suffix).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp"})

RESIZE_METHODS = {
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
}


class ImageError(EdgeAllError):
    """An input that cannot be turned into RGB pixels; the message names the file and the problem."""


@dataclass(frozen=True)
class Preprocessing:
    """How raw pixels become model input; recorded in every bundle so the device repeats it.

    The network's own normalisation lives inside the model graph, so the model takes raw 0-255
    RGB pixels and only geometry is described here.
    """

    color_order: str = "RGB"
    resize: str = "bilinear"
    crop: str = "center"  # "center": crop the largest centred square first; "none": stretch

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        doc = JsonObject.of(data, "preprocessing")
        default = cls()
        prep = cls(
            color_order=doc.text("color_order", default.color_order),
            resize=doc.text("resize", default.resize),
            crop=doc.text("crop", default.crop),
        )
        if prep.color_order != "RGB":
            raise doc.fail("color_order", f"unsupported colour order {prep.color_order!r} (only RGB)")
        if prep.resize not in RESIZE_METHODS:
            raise doc.fail("resize", f"unsupported resize method {prep.resize!r}")
        if prep.crop not in ("center", "none"):
            raise doc.fail("crop", f"unsupported crop {prep.crop!r}")
        return prep


@dataclass(frozen=True)
class DecodedImage:
    """A file read as upright 8-bit RGB, and by how much it was reduced on the way.

    `reduction` is 1, or for a JPEG too large to decode whole, 2, 4 or 8: each pixel of `image` then
    covers `reduction` x `reduction` pixels of the file, so its micrometres per pixel are `reduction`
    times the file's own (ScaleEstimate.reduced multiplies a given scale by it; nothing else needs it).
    """

    image: Image.Image
    reduction: int  # 1: every pixel of the file
    stored_size: tuple[int, int]  # (width, height) in the file, before reduction and turning upright


def _describe(source: ImageSource) -> str:
    return str(source) if isinstance(source, (str, Path)) else f"<{type(source).__name__}>"


# A slide's background, where a picture is transparent: light through a smear with no cells on it.
WHITE = (255, 255, 255)
HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
PREMULTIPLIED_MODES = ("RGBa", "La")  # colour already multiplied by alpha


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Any PIL mode (grayscale, palette, with alpha, CMYK, 16-bit, float) to 8-bit RGB, with every
    transparent pixel composited on white: the one place transparency is handled."""
    if image.mode in HIGH_BIT_MODES:
        image = _eight_bit(image)
    if image.mode in PREMULTIPLIED_MODES:
        return _premultiplied_on_white(image)
    if image.has_transparency_data:
        return _on_white(image)
    try:
        return image.convert("RGB") if image.mode != "RGB" else image
    except ValueError as exc:  # a mode Pillow cannot convert
        raise ImageError(f"{name}: image mode {image.mode} cannot be converted to RGB ({exc})") from None


def _bands(height: int) -> range:
    """The first rows of the bands a large frame is worked through, so that only one band of it is
    ever copied or widened at a time (BAND_ROWS rows)."""
    return range(0, height, BAND_ROWS)


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float frame as 8-bit L (its transparent colour key, if any, as alpha).

    Worked through in bands of float32 rows: a 16-Mpixel 16-bit frame costs the 8-bit result and one
    band beyond itself, not a 64 MB float copy (and the bytes that copy was made from). Values over 255
    anywhere in the frame mean it holds 16 bits, and every band is scaled by 255/65535.
    """
    key = image.info.get("transparency")
    keyed = isinstance(key, (int, float)) and not isinstance(key, bool)
    width, height = image.size

    def band(top: int) -> np.ndarray:
        values = np.array(image.crop((0, top, width, min(height, top + BAND_ROWS))), dtype=np.float32)
        return np.nan_to_num(values, copy=False, nan=0.0, posinf=65535.0, neginf=0.0)

    high = max((float(band(top).max()) for top in _bands(height)), default=0.0) if width else 0.0
    gray = np.empty((height, width), np.uint8)
    transparent = np.zeros((height, width), bool) if keyed else None
    for top in _bands(height):
        values = band(top)
        if transparent is not None:
            transparent[top : top + len(values)] = values == key
        if high > 255:
            values *= 255.0 / 65535.0
        np.clip(values, 0, 255, out=values)
        gray[top : top + len(values)] = values
    result = Image.fromarray(gray, mode="L")
    if transparent is not None and transparent.any():
        result.putalpha(Image.fromarray(np.where(transparent, 0, 255).astype(np.uint8), mode="L"))
    return result


def _on_white(image: Image.Image) -> Image.Image:
    """Alpha (RGBA, LA, PA), a palette's tRNS or a colour key, blended over a white background,
    a band at a time (a cropped band keeps the palette and the transparency key)."""
    white = Image.new("RGB", image.size, WHITE)
    for top in _bands(image.height):
        band = image.crop((0, top, image.width, min(image.height, top + BAND_ROWS)))
        rgba = band if band.mode == "RGBA" else band.convert("RGBA")
        white.paste(rgba, (0, top), rgba)  # the mask's alpha band: colour * a + white * (1 - a)
    return white


def _premultiplied_on_white(image: Image.Image) -> Image.Image:
    """RGBa or La: the colour already carries alpha, so over white it is colour + (255 - alpha)."""
    array = np.asarray(image)
    alpha = array[..., -1:]
    colour = np.minimum(array[..., :-1], alpha)  # a damaged pixel brighter than its alpha: clipped
    colour += 255 - alpha  # at most 255: no overflow
    if colour.shape[-1] == 1:
        colour = np.repeat(colour, 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(colour), mode="RGB")


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode a file as an upright 8-bit RGB image, or raise ImageError (read_image's
    pixels: a JPEG over MAX_DECODED_PIXELS comes back reduced)."""
    return read_image(path).image


def read_image(path: str | Path) -> DecodedImage:
    """Decode a file in bounded memory as upright 8-bit RGB, with its reduction; or raise ImageError."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    # Only a regular file is ever opened: a FIFO named like an image would block for ever.
    with open_regular(path, "image", ImageError) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ImageError(f"{path}: empty file")
        return _decode(handle, path)


def _decode(handle: BinaryIO, path: Path) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                stored = image.size
                reduction = _reduce(image, path)
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # our own image: no copy when upright
                return DecodedImage(_to_rgb(image, str(path)), reduction, stored)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: too many pixels (possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (format not recognised)") from None
    except OSError as exc:
        raise ImageError(f"{path}: unreadable or truncated image ({exc})") from None
    except (SyntaxError, EOFError, ValueError, struct.error) as exc:
        # Pillow's decoders signal some corrupt headers and chunks with these rather than OSError.
        raise ImageError(f"{path}: corrupt image data ({exc})") from None
    except Exception as exc:  # any other decoder failure (or MemoryError) is this file's, not the batch's
        raise ImageError(f"{path}: cannot be decoded ({type(exc).__name__}: {exc})") from None


def _reduce(image: Image.Image, path: Path) -> int:
    """Refuse a file too large to decode, or have a large JPEG decoded smaller; the reduction."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{path}: {width}x{height} pixels is too large "
            f"(limit {MAX_PIXELS:,}; possible decompression bomb)"
        )
    if width * height <= MAX_DECODED_PIXELS:
        return 1
    fits = [r for r in JPEG_REDUCTIONS if -(-width // r) * -(-height // r) <= MAX_DECODED_PIXELS]
    if image.format not in DRAFT_FORMATS or not fits:
        raise ImageError(
            f"{path}: {width}x{height} pixels is too large to decode (limit {MAX_DECODED_PIXELS:,} "
            f"pixels, 4096x4096; only a JPEG is read at reduced size, up to {MAX_PIXELS:,})"
        )
    coefficients = _progressive_coefficient_bytes(image)
    if coefficients > MAX_COEFFICIENT_BYTES:
        raise ImageError(
            f"{path}: a progressive JPEG of {width}x{height} pixels needs {coefficients >> 20} MiB to decode "
            f"(limit {MAX_COEFFICIENT_BYTES >> 20} MiB); save it as a baseline JPEG or smaller"
        )
    image.draft(image.mode, (width // fits[0], height // fits[0]))
    if image.size[0] * image.size[1] > MAX_DECODED_PIXELS:  # draft declined (an unusual JPEG layout)
        raise ImageError(f"{path}: {width}x{height} pixels is too large to decode, and cannot be reduced")
    return round(width / image.size[0])


def rgb_array(image: Image.Image) -> np.ndarray:
    """An RGB PIL image's pixels as an (H, W, 3) array, copied a band of rows at a time.

    np.asarray(image) goes through image.tobytes(), which holds the encoded pieces and their join at
    once: three copies of a frame at its peak. Band by band it is the image and the array only,
    which for a 16-Mpixel frame is 50 MB less at the moment that decides the peak (docs/reliability.md).
    """
    width, height = image.size
    array = np.empty((height, width, 3), np.uint8)
    for top in _bands(height):
        band = image.crop((0, top, width, min(height, top + BAND_ROWS)))
        array[top : top + band.height] = np.asarray(band)
    return array


def _progressive_coefficient_bytes(image: Image.Image) -> int:
    """What libjpeg holds to decode a progressive JPEG: every component's 8x8 blocks of 2-byte
    coefficients, each component subsampled by its sampling factors (0 for a baseline JPEG)."""
    layers = getattr(image, "layer", None)
    if not image.info.get("progressive") or not layers:
        return 0
    width, height = image.size
    most_h = max(layer[1] for layer in layers)
    most_v = max(layer[2] for layer in layers)
    blocks = sum(-(-width * h // (most_h * 8)) * -(-height * v // (most_v * 8)) for _, h, v, _ in layers)
    return blocks * 64 * 2


def read_rgb(path: str | Path) -> tuple[np.ndarray, int]:
    """A file's pixels as an (H, W, 3) array and its reduction (1, or 2-8 for a JPEG decoded smaller):
    a scale given for the file's pixels (--um-per-px, a site's) is `reduction` times larger here."""
    decoded = read_image(path)
    return rgb_array(decoded.image), decoded.reduction


def load_rgb(source: ImageSource) -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB array from a path, a PIL image or a numpy array.

    numpy arrays are taken as RGB already (the camera sources convert BGR before this); 2-D arrays
    are grayscale. A 4-channel array's fourth channel is dropped, not composited: arrays are what a
    camera delivers (XRGB8888, BGRX), whose fourth byte is padding that may well be 0, and taking it
    for alpha would turn a frame white. A picture with real transparency comes as a file or a PIL
    image (RGBA, LA, PA, P with tRNS...), and is composited on white like every file.
    """
    if isinstance(source, (str, Path)):
        return rgb_array(open_image(source))
    if isinstance(source, Image.Image):
        turned = source.getexif().get(ExifTags.Base.Orientation, 1) not in (0, 1)
        upright = ImageOps.exif_transpose(source) if turned else source  # a copy only when turned
        return rgb_array(_to_rgb(upright, _describe(source)))
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            raise ImageError(f"{_describe(source)}: expected a uint8 array, got {array.dtype}")
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or 0 in array.shape:
            raise ImageError(f"{_describe(source)}: expected an HxWx3 RGB array, got shape {array.shape}")
        return np.ascontiguousarray(array[:, :, :3])
    raise ImageError(f"{_describe(source)}: unsupported image type")


def resize_rgb(rgb: np.ndarray, height: int, width: int, prep: Preprocessing = Preprocessing()) -> np.ndarray:
    """Crop (if asked) and resize an RGB uint8 array to (height, width, 3)."""
    h, w = rgb.shape[:2]
    if prep.crop == "center":
        target = width / height
        if w / h > target:
            new_w = max(1, round(h * target))
            left = (w - new_w) // 2
            rgb = rgb[:, left : left + new_w]
        elif w / h < target:
            new_h = max(1, round(w / target))
            top = (h - new_h) // 2
            rgb = rgb[top : top + new_h]
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb)
    resized = Image.fromarray(rgb).resize((width, height), RESIZE_METHODS[prep.resize])
    return np.asarray(resized)


def prepare(
    source: ImageSource, height: int, width: int, prep: Preprocessing = Preprocessing()
) -> np.ndarray:
    """Load any image source and return model-ready (height, width, 3) uint8 RGB pixels."""
    return resize_rgb(load_rgb(source), height, width, prep)
