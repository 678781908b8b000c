"""Resampling an image to a physical scale by area averaging, never upsampling beyond its source.

Area averaging (Pillow's BOX filter, what OpenCV calls INTER_AREA) is what a coarser camera would have
recorded: each new pixel is the mean of the old pixels it covers, so noise averages out and an edge
stays as sharp as the new pixels allow. Upsampling would invent detail the source never had (and make
a coarse image look blurred to the focus measure), so an image coarser than the scale asked for is
kept at its own scale, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Scales within this fraction of each other are the same scale: resampling by 2% only softens.
SAME_SCALE = 0.02


@dataclass(frozen=True)
class Resampled:
    """An image at (or as near as its source allows to) a scale, and how it got there."""

    rgb: np.ndarray  # (H, W, 3) uint8
    um_per_px: float  # the scale of `rgb`: the one asked for, or the source's own when coarser
    factor: float  # new pixels per source pixel along each side (<= 1); box coordinates scale by it
    note: str | None  # why it is not at the scale asked for (a coarser source), else None


def shrink_by(rgb: np.ndarray, factor: float) -> np.ndarray:
    """An area-averaged copy `factor` (< 1) times the size along each side; factor >= 1: `rgb` itself."""
    if factor >= 1.0:
        return rgb
    h, w = rgb.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def centre_within(rgb: np.ndarray, max_pixels: float) -> np.ndarray:
    """The centre of `rgb` with at most `max_pixels` pixels and the same aspect ratio (all of it when
    it fits): what a measurement bounded in memory reads of a field too large to measure whole."""
    h, w = rgb.shape[:2]
    if h * w <= max_pixels:
        return rgb
    keep = (max_pixels / (h * w)) ** 0.5
    ch, cw = max(1, int(h * keep)), max(1, int(w * keep))
    top, left = (h - ch) // 2, (w - cw) // 2
    return rgb[top : top + ch, left : left + cw]


def to_scale(rgb: np.ndarray, from_um_per_px: float, to_um_per_px: float) -> Resampled:
    """`rgb` (at `from_um_per_px`) resampled by area averaging to `to_um_per_px`.

    A source coarser than the target is not upsampled: it is returned as it is, at its own scale,
    with a note saying so (the quality judge and the finder then read it a little coarser).
    """
    if not (from_um_per_px > 0 and to_um_per_px > 0):
        raise ValueError(f"scales must be positive, not {from_um_per_px} and {to_um_per_px} um/px")
    factor = from_um_per_px / to_um_per_px
    if factor > 1.0 + SAME_SCALE:
        note = (
            f"not upsampled: the image ({from_um_per_px:.3g} um/px) is coarser than "
            f"{to_um_per_px:.3g} um/px, so it is read at its own scale"
        )
        return Resampled(rgb, from_um_per_px, 1.0, note)
    if factor >= 1.0 - SAME_SCALE:
        return Resampled(rgb, from_um_per_px, 1.0, None)
    small = shrink_by(rgb, factor)
    # The size was rounded to whole pixels: the scale actually reached, from the longer side.
    h, w = rgb.shape[:2]
    actual = (w / small.shape[1]) * from_um_per_px if w >= h else (h / small.shape[0]) * from_um_per_px
    return Resampled(small, actual, small.shape[1] / w if w >= h else small.shape[0] / h, None)
