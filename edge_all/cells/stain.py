"""Stain normalisation: the bundle's `stain`, applied to the resampled field before the crops.

The same code as training (torchstain's numpy backend, Reinhard: each LAB channel of the image
standardised, then given the target's mean and spread), so a laboratory's stain is not the model's
cue. torchstain's numpy backend needs only numpy (no torch): it runs on a Pi.

A commissioned site (edge_all.site) gives its own LAB statistics, fitted once on its commissioning
fields: each field is then standardised with the site's stable estimate instead of its own, which
moves with how many cells the field happens to hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_all.errors import EdgeAllError
from edge_all.runtime.bundle import Stain


class StainError(EdgeAllError):
    """A stain the device cannot apply (the library missing, or a method it does not know)."""


@dataclass(frozen=True)
class LabStatistics:
    """The mean and spread of each LAB channel (torchstain's numpy LAB: L/2.55, a-128, b-128)."""

    means: tuple[float, float, float]
    stds: tuple[float, float, float]


def _reinhard() -> Any:
    try:
        from torchstain.numpy.normalizers import NumpyReinhardNormalizer
    except ImportError:
        raise StainError(
            "stain normalisation needs torchstain (pip install torchstain; its numpy backend needs no torch)"
        ) from None
    return NumpyReinhardNormalizer()


def lab_statistics(rgb: np.ndarray) -> LabStatistics:
    """An image's LAB statistics, as torchstain's Reinhard `fit` computes them for a target."""
    norm = _reinhard()
    with np.errstate(divide="ignore", invalid="ignore"):
        norm.fit(rgb)
    means = tuple(float(v) for v in norm.target_means)
    stds = tuple(float(v) for v in norm.target_stds)
    return LabStatistics(means, stds)  # type: ignore[arg-type]


class StainNormaliser:
    """Applies one bundle's stain to uint8 RGB images; "none" returns them as they are.

    `source`: the site's LAB statistics, used instead of each image's own (None: per image).
    """

    def __init__(self, stain: Stain | None, source: LabStatistics | None = None) -> None:
        self.method = stain.method if stain is not None else "none"
        self.source = source
        self._norm: Any = None
        if self.method == "none":
            return
        if (
            self.method != "reinhard"
            or stain is None
            or stain.target_means is None
            or stain.target_stds is None
        ):
            raise StainError(
                f"stain method {self.method!r} cannot be applied (this edge-all applies reinhard)"
            )
        self._norm = _reinhard()
        self._norm.target_means = np.asarray(stain.target_means, np.float32)
        self._norm.target_stds = np.asarray(stain.target_stds, np.float32)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if self._norm is None:
            return rgb
        if float(rgb.std()) < 1e-3:  # one flat colour: no spread to standardise
            return rgb
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.source is None:
                return np.ascontiguousarray(self._norm.normalize(rgb))
            return self._with_source(rgb)

    def _with_source(self, rgb: np.ndarray) -> np.ndarray:
        """torchstain's Reinhard `normalize`, standardising with the site's statistics."""
        from torchstain.numpy.utils.lab2rgb import lab2rgb
        from torchstain.numpy.utils.rgb2lab import rgb2lab
        from torchstain.numpy.utils.split import lab_merge, lab_split
        from torchstain.numpy.utils.stats import standardize

        assert self.source is not None
        labs = lab_split(rgb2lab(rgb.astype("float32") / 255))
        result = [
            standardize(x, mu, max(std, 1e-6)) * std_t + mu_t
            for x, mu, std, mu_t, std_t in zip(
                labs,
                self.source.means,
                self.source.stds,
                self._norm.target_means,
                self._norm.target_stds,
                strict=True,
            )
        ]
        return np.ascontiguousarray((lab2rgb(lab_merge(*result)) * 255).astype("uint8"))
