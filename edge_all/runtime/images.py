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
from PIL import Image, ImageOps, UnidentifiedImageError

from edge_all.errors import EdgeAllError
from edge_all.jsonfile import JsonObject
from edge_all.regular_files import open_regular

# A 224x224 smear image is 50 kpixels and a camera frame a few Mpixels; anything far larger is a
# decompression bomb or not a micrograph.
MAX_PIXELS = 64_000_000

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


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float frame as 8-bit L (its transparent colour key, if any, as alpha).

    float32 in place: a 16-Mpixel 16-bit frame costs 64 MB here, not several hundred.
    """
    key = image.info.get("transparency")
    array = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=65535.0, neginf=0.0)
    transparent = array == key if isinstance(key, (int, float)) and not isinstance(key, bool) else None
    high = float(array.max()) if array.size else 0.0
    if high > 255:
        array *= 255.0 / 65535.0
    np.clip(array, 0, 255, out=array)
    gray = Image.fromarray(array.astype(np.uint8), mode="L")
    if transparent is not None and transparent.any():
        gray.putalpha(Image.fromarray(np.where(transparent, 0, 255).astype(np.uint8), mode="L"))
    return gray


def _on_white(image: Image.Image) -> Image.Image:
    """Alpha (RGBA, LA, PA), a palette's tRNS or a colour key, blended over a white background."""
    rgba = image.convert("RGBA")
    white = Image.new("RGB", rgba.size, WHITE)
    white.paste(rgba, mask=rgba)  # the mask's alpha band: colour * a + white * (1 - a)
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
    """Open and fully decode a file as an upright 8-bit RGB image, or raise ImageError."""
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


def _decode(handle: BinaryIO, path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: {image.width}x{image.height} pixels is too large "
                        f"(limit {MAX_PIXELS:,}; possible decompression bomb)"
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
                return _to_rgb(upright if upright is not None else image, str(path))
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


def load_rgb(source: ImageSource) -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB array from a path, a PIL image or a numpy array.

    numpy arrays are taken as RGB already (the camera sources convert BGR before this); 2-D arrays
    are grayscale. A 4-channel array's fourth channel is dropped, not composited: arrays are what a
    camera delivers (XRGB8888, BGRX), whose fourth byte is padding that may well be 0, and taking it
    for alpha would turn a frame white. A picture with real transparency comes as a file or a PIL
    image (RGBA, LA, PA, P with tRNS...), and is composited on white like every file.
    """
    if isinstance(source, (str, Path)):
        return np.asarray(open_image(source))
    if isinstance(source, Image.Image):
        upright = ImageOps.exif_transpose(source)
        return np.asarray(_to_rgb(upright if upright is not None else source, _describe(source)))
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
