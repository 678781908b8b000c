"""The home lab's blasts, made to look like another site: its stain, blur and noise.

A clinic has no blasts of its own to check the model with, but the bundle can carry a few hundred of
the home lab's (blasts.npz: uint8 crops at the bundle's scale from the home lab's TEST split, with the
home lab's LAB statistics, focus and noise measured on the fields they were cut from). Commissioning
gives them the site's look before reading them as the site's fields are read:

- stain: Reinhard from the home lab's LAB statistics to the site's (torchstain's standardisation,
  edge_all.cells.stain), so the reading's own normalisation then meets them as it meets the site's fields;
- blur: a Gaussian blur, its sigma found by bisection so the crops' focus (the quality gate's Laplacian
  variance) falls by the site's focus median over the home lab's (never sharpened);
- noise: Gaussian noise of sqrt(site^2 - home^2) grey levels (never removed), the noise levels measured
  with Immerkaer's estimator (`noise_level`) on both labs' fields at the reference scale.

The scale needs nothing: the crops are at the bundle's scale, as every site's fields are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from edge_all.cells.stain import LabStatistics, StainNormaliser
from edge_all.errors import EdgeAllError
from edge_all.runtime.bundle import Stain
from edge_all.safe_write import replacing
from edge_all.triage.quality import laplacian_variance, luma

MAX_BLUR_SIGMA = 4.0  # px at the bundle's scale: a site blurrier than this is refused as out of focus anyway


class BlastsError(EdgeAllError):
    """A blasts.npz that cannot be read (wrong arrays, shapes or types)."""


@dataclass(frozen=True)
class HomeBlasts:
    """The home lab's blast crops and what its fields looked like (see the module doc)."""

    crops: np.ndarray  # (N, S, S, 3) uint8 at the bundle's scale, not stain-normalised
    lab: LabStatistics  # the home lab's fields' LAB statistics (median), at the reference scale
    focus: float  # the home lab's fields' focus median (the quality gate's, at the reference scale)
    noise: float  # the home lab's fields' noise median (grey levels, `noise_level`)

    def save(self, path: str | Path) -> None:
        with replacing(path, "the home-lab blasts", text=False) as handle:
            np.savez_compressed(
                handle,
                crops=self.crops,
                lab_means=np.asarray(self.lab.means, np.float64),
                lab_stds=np.asarray(self.lab.stds, np.float64),
                focus=np.float64(self.focus),
                noise=np.float64(self.noise),
            )

    @classmethod
    def load(cls, path: str | Path) -> HomeBlasts:
        """Read a blasts.npz written by `save` (plain arrays only: no pickles are ever loaded)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                crops = data["crops"]
                means, stds = data["lab_means"], data["lab_stds"]
                focus, noise = float(data["focus"]), float(data["noise"])
        except (OSError, KeyError, ValueError) as exc:
            raise BlastsError(f"{path}: not a blasts file ({exc})") from None
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[0] == 0:
            raise BlastsError(f"{path}: crops must be (N, S, S, 3) uint8, not {crops.shape} {crops.dtype}")
        if means.shape != (3,) or stds.shape != (3,) or not focus > 0 or not noise >= 0:
            raise BlastsError(f"{path}: inconsistent LAB statistics, focus or noise")
        three = lambda v: tuple(float(x) for x in v)  # noqa: E731
        return cls(crops, LabStatistics(three(means), three(stds)), focus, noise)  # type: ignore[arg-type]


def noise_level(rgb: np.ndarray) -> float:
    """Immerkaer's fast noise estimate (1996) of the luma, in grey levels: the mean absolute response to
    the Laplacian-difference mask that cancels edges and ramps, times sqrt(pi / 2) / 6."""
    gray = luma(rgb)
    if min(gray.shape) < 3:
        return 0.0
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = ndi.convolve(gray, mask, mode="nearest")[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) / 6 * np.abs(response).mean())


def _focus(crops: np.ndarray) -> float:
    return float(np.mean([laplacian_variance(luma(c)) for c in crops]))


def _blur(crops: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return crops
    blurred = ndi.gaussian_filter(crops.astype(np.float32), (0, sigma, sigma, 0), mode="reflect")
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def blur_for(crops: np.ndarray, ratio: float) -> float:
    """The Gaussian sigma (px) that brings the crops' focus to `ratio` of theirs (0: ratio >= 1)."""
    if ratio >= 1.0:
        return 0.0
    sample = crops[:: max(1, len(crops) // 64)]
    target = _focus(sample) * ratio
    low, high = 0.0, MAX_BLUR_SIGMA
    for _ in range(20):
        middle = (low + high) / 2
        low, high = (middle, high) if _focus(_blur(sample, middle)) > target else (low, middle)
    return round(high, 3)


@dataclass(frozen=True)
class SiteLook:
    """What was done to the blasts: the sigmas of the blur (px) and the added noise (grey levels)."""

    blur_sigma: float
    noise_sigma: float


def look_like_site(
    blasts: HomeBlasts, site_lab: LabStatistics, site_focus: float, site_noise: float, seed: int = 0
) -> tuple[np.ndarray, SiteLook]:
    """The blasts with the site's stain, blur and noise (see the module doc), and what was applied."""
    to_site = StainNormaliser(Stain("reinhard", "torchstain", site_lab.means, site_lab.stds), blasts.lab)
    stained = np.stack([to_site(crop) for crop in blasts.crops])
    sigma = blur_for(stained, site_focus / blasts.focus)
    blurred = _blur(stained, sigma)
    extra = float(np.sqrt(max(0.0, site_noise**2 - blasts.noise**2)))
    if extra > 0:
        rng = np.random.default_rng(seed)
        noisy = blurred.astype(np.float32) + rng.normal(0.0, extra, blurred.shape).astype(np.float32)
        blurred = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return blurred, SiteLook(sigma, round(extra, 3))
