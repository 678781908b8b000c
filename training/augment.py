"""Augmentation policies: what a new clinic's microscope will do to an image, taught while training.

A clinic's camera is never the one the training images came from: the slide lies at any angle, the
stain is a little different, the focus a little soft, the camera compresses, its resolution is lower.
A policy is a named, versioned albumentations pipeline (a kept library, numpy in and out, so it runs
the same on every Keras backend); config.json records the policy's name, version and every transform
with its parameters. It is applied to training batches only, never to validation, test or the
robustness battery (training.robustness), and it is reproducible: each image draws from its own seed,
(epoch, batch, position in the batch), so a run repeats exactly, a resumed run continues the same
sequence, and hosts that each augment their slice of a batch draw what one host would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NONE = "none"


@dataclass(frozen=True)
class AugmentPolicy:
    """A named pipeline; bump `version` whenever its transforms or parameters change."""

    name: str
    version: int
    description: str
    build: Callable[[], Any] | None  # -> albumentations.Compose; None: the identity

    def describe(self) -> dict[str, Any]:
        """What config.json records: enough to rebuild the pipeline exactly."""
        record: dict[str, Any] = {"name": self.name, "version": self.version, "description": self.description}
        if self.build is not None:
            import albumentations

            record["albumentations"] = albumentations.to_dict(self.build())
        return record


def _d4() -> Any:
    import albumentations as A

    return A.Compose([A.D4(p=1.0)])


def _clinic_v1() -> Any:
    """The recipe measured in docs/results.md: geometry, stain, optics, sensor, compression."""
    import albumentations as A

    return A.Compose(
        [
            A.D4(p=1.0),  # a smear has no up, down, left or right: any of the 8 symmetries of the square
            A.Affine(scale=(0.85, 1.15), border_mode=2, p=0.5),  # objective / camera adapter (reflect)
            # stain and lamp: brightness, contrast, saturation, a hue shift of up to ~11 degrees
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.3, hue=0.03, p=0.8),
            A.OneOf(
                [
                    A.GaussianBlur(sigma_limit=(0.3, 1.6), blur_limit=0),  # focus a little off
                    A.Sharpen(alpha=(0.1, 0.3)),  # a camera's own sharpening
                    A.Downscale(scale_range=(0.4, 0.9)),  # a lower-resolution sensor
                ],
                p=0.6,
            ),
            A.ImageCompression(quality_range=(30, 95), p=0.5),  # the camera's or the software's JPEG
        ]
    )


def _cells_v1() -> Any:
    """For cell crops of several labs (training.cells_data): everything that tells a lab's camera from
    another's (resolution, focus, sensor noise, JPEG, a little colour left after the stain
    normalisation, a scale a few per cent off) varied on every crop, so no source's look is a cue."""
    import albumentations as A

    return A.Compose(
        [
            A.D4(p=1.0),
            A.Affine(scale=(0.9, 1.1), border_mode=2, p=0.5),  # a scale estimate a few per cent off
            A.ColorJitter(brightness=0.15, contrast=0.15, saturation=0.2, hue=0.03, p=0.8),
            A.OneOf(
                [
                    A.GaussianBlur(sigma_limit=(0.3, 1.2), blur_limit=0),
                    A.Downscale(scale_range=(0.5, 0.9)),
                    A.Sharpen(alpha=(0.1, 0.3)),
                ],
                p=0.7,
            ),
            A.GaussNoise(std_range=(0.01, 0.04), p=0.3),
            A.ImageCompression(quality_range=(60, 95), p=0.5),
        ]
    )


POLICIES: dict[str, AugmentPolicy] = {
    policy.name: policy
    for policy in (
        AugmentPolicy(NONE, 1, "no augmentation", None),
        AugmentPolicy("d4", 1, "the 8 rotations and flips of the square", _d4),
        AugmentPolicy(
            "clinic-v1",
            1,
            "D4, scale 0.85-1.15, stain/colour jitter, blur or sharpening or a lower resolution, "
            "JPEG quality 30-95",
            _clinic_v1,
        ),
        AugmentPolicy(
            "cells-v1",
            1,
            "for cell crops: D4, scale 0.9-1.1, colour jitter, blur or a lower resolution or sharpening, "
            "sensor noise, JPEG quality 60-95",
            _cells_v1,
        ),
    )
}


class Augmenter:
    """Applies a policy to uint8 batches; the same (seed, epoch, batch) always gives the same batch,
    and each image's draws depend only on its place in it."""

    def __init__(self, policy: AugmentPolicy, seed: Sequence[int]) -> None:
        if policy.build is None:
            raise ValueError(f"policy {policy.name!r} does nothing: train without an augmenter")
        self.policy = policy
        self.seed = list(seed)
        self._pipeline = policy.build()

    def __call__(self, batch: np.ndarray, epoch: int, index: int, first: int = 0) -> np.ndarray:
        """`first`: the position of batch[0] in the whole batch (a host's slice starts further on)."""
        out = []
        for position, image in enumerate(batch, start=first):
            seed = np.random.SeedSequence([*self.seed, epoch, index, position]).generate_state(1)[0]
            self._pipeline.set_random_seed(int(seed))
            out.append(self._pipeline(image=image)["image"])
        return np.stack(out)
