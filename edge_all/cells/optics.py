"""Light and stain: the level of the bare glass under the lamp, and optical density against it.

A measure taken against the glass under the same lamp does not change with a dim bulb, a tinted
lamp or vignetting, as an absolute pixel level does (another lab's fields with the glass at luma 150
are not "too dark": the cells on them are as visible as on glass at 250). Optical density (OD,
-log10 of the fraction of light let through) adds up with stain, so a cut on it means the same under
any light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Blocks along the short side for the glass estimate: a few red cells wide at any magnification a
# smear is read at, so most blocks hold some glass.
_GRID = 6
_GLASS_PERCENTILE = 95.0
# The largest OD 8-bit pixels can say anything about (1/255 of the light let through).
MAX_OD = 2.4
# ITU-R BT.601 luma weights.
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Glass:
    """The brightness of bare glass at every pixel (a smooth surface, for vignetting) and its median."""

    rgb: np.ndarray  # (H, W, 3) float32
    median_rgb: tuple[float, float, float]

    @property
    def luma(self) -> float:
        """The lamp's level through bare glass, as luma (0-255)."""
        return float(sum(w * c for w, c in zip(_LUMA, self.median_rgb, strict=True)))


def _block_percentiles(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    ny = max(1, round(_GRID * h / min(h, w)))
    nx = max(1, round(_GRID * w / min(h, w)))
    ys = np.linspace(0, h, ny + 1).astype(int)
    xs = np.linspace(0, w, nx + 1).astype(int)
    values = np.empty((ny, nx, 3), np.float64)
    for i in range(ny):
        for j in range(nx):
            block = rgb[ys[i] : ys[i + 1], xs[j] : xs[j + 1]].reshape(-1, 3)
            values[i, j] = np.percentile(block, _GLASS_PERCENTILE, axis=0) if block.size else 0.0
    cy = (ys[:-1] + ys[1:]) / 2.0 / h - 0.5
    cx = (xs[:-1] + xs[1:]) / 2.0 / w - 0.5
    return values, cy, cx


def _quadratic_terms(y: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
    return [np.ones_like(x * y), x, y, x * x, y * y, x * y]


def estimate_glass(rgb: np.ndarray) -> Glass:
    """The brightness of bare glass, fitted as a quadratic surface per channel.

    Each block's 95th percentile is glass where the block shows any; blocks covered by cells read
    darker, so the fit is an upper envelope: blocks well below the surface are dropped and it is fitted
    again, and a packed field keeps the level of its few gaps.
    """
    values, cy, cx = _block_percentiles(rgb)
    yy, xx = np.meshgrid(cy, cx, indexing="ij")
    design = np.stack(_quadratic_terms(yy.ravel(), xx.ravel()), axis=-1)
    h, w = rgb.shape[:2]
    gy = ((np.arange(h) + 0.5) / h - 0.5)[:, None]
    gx = ((np.arange(w) + 0.5) / w - 0.5)[None, :]
    terms = _quadratic_terms(gy, gx)
    surface = np.empty((h, w, 3), np.float32)
    for c in range(3):
        target = values[..., c].ravel()
        keep = np.ones(target.size, bool)
        coef = np.array([float(np.median(target)), 0, 0, 0, 0, 0])
        for _ in range(4):
            if keep.sum() < 6:  # too few blocks to fit a surface: a flat level
                coef = np.array([float(np.median(target[keep] if keep.any() else target)), 0, 0, 0, 0, 0])
                break
            coef = np.linalg.lstsq(design[keep], target[keep], rcond=None)[0]
            resid = target - design @ coef
            keep = resid > -max(4.0, 2.5 * float(np.median(np.abs(resid[keep]))))
        surface[..., c] = np.clip(sum(k * t for k, t in zip(coef, terms, strict=True)), 1.0, 255.0)
    medians = tuple(float(np.median(surface[..., c])) for c in range(3))
    return Glass(rgb=surface, median_rgb=(medians[0], medians[1], medians[2]))


_LOG_TABLE = -np.log10(np.maximum(np.arange(256, dtype=np.float32), 0.5))


def optical_density(rgb: np.ndarray, glass: Glass) -> np.ndarray:
    """Per-channel OD of each pixel of a uint8 image against the glass under it, clipped to [0, MAX_OD]."""
    od = _LOG_TABLE[rgb] + np.log10(glass.rgb)
    return np.clip(od, 0.0, MAX_OD)
