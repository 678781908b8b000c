"""Stain normalisation: the bundle's `stain`, applied to the resampled field before the crops.

The same code as training (torchstain's numpy backend, Reinhard: each LAB channel of the image
standardised, then given the target's mean and spread), so a laboratory's stain is not the model's
cue. torchstain's numpy backend needs only numpy (no torch): it runs on a Pi.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_all.errors import EdgeAllError
from edge_all.runtime.bundle import Stain


class StainError(EdgeAllError):
    """A stain the device cannot apply (the library missing, or a method it does not know)."""


class StainNormaliser:
    """Applies one bundle's stain to uint8 RGB images; "none" returns them as they are."""

    def __init__(self, stain: Stain | None) -> None:
        self.method = stain.method if stain is not None else "none"
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
        try:
            from torchstain.numpy.normalizers import NumpyReinhardNormalizer
        except ImportError:
            raise StainError(
                "stain normalisation needs torchstain "
                "(pip install torchstain; its numpy backend needs no torch)"
            ) from None
        self._norm = NumpyReinhardNormalizer()
        self._norm.target_means = np.asarray(stain.target_means, np.float32)
        self._norm.target_stds = np.asarray(stain.target_stds, np.float32)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if self._norm is None:
            return rgb
        if float(rgb.std()) < 1e-3:  # one flat colour: no spread to standardise
            return rgb
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.ascontiguousarray(self._norm.normalize(rgb))
