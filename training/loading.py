"""Read a split's images into memory and feed them to Keras in batches.

Every image goes through edge_all.images.prepare with the same Preprocessing the bundle records, so
the pixels the model trains on are the pixels the device will give it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from edge_all.images import ImageError, Preprocessing, prepare
from training.augment import Augmenter
from training.dataset import ImageRecord, Skipped, Split

PREPROCESSING = Preprocessing()  # RGB, bilinear, centre crop: what bundle.json will record


@dataclass
class LoadedImages:
    """Pixels (N, H, W, 3) uint8 and class indices (N,), with the files they came from."""

    pixels: np.ndarray
    labels: np.ndarray
    records: list[ImageRecord]
    skipped: list[Skipped] = field(default_factory=list)


def load_images(
    split: Split, records: list[ImageRecord], size: int, warn=None, progress: str | None = None
) -> LoadedImages:
    """Decode and resize `records`; an unreadable file is skipped with one warning line.

    `progress` names a Keras progress bar (for the thousands of images of a real dataset).
    """
    warn = warn or (lambda line: print(line, file=sys.stderr))
    index = {name: i for i, name in enumerate(split.classes)}
    pixels = np.empty((len(records), size, size, 3), np.uint8)
    kept: list[ImageRecord] = []
    skipped: list[Skipped] = []
    bar = None
    if progress and records:
        print(progress, flush=True)
        bar = keras.utils.Progbar(len(records), unit_name="image")
    for done, record in enumerate(records):
        if bar is not None and done % 64 == 0:
            bar.update(done)
        try:
            pixels[len(kept)] = prepare(split.path(record), size, size, PREPROCESSING)
        except ImageError as exc:
            reason = str(exc).removeprefix(f"{split.path(record)}: ")
            warn(f"warning: skipping {record.file}: {reason}")
            skipped.append(Skipped(record.file, reason))
            continue
        kept.append(record)
    if bar is not None:
        bar.update(len(records))
    labels = np.array([index[r.label] for r in kept], np.int64)
    return LoadedImages(pixels[: len(kept)], labels, kept, skipped)


class ImageBatches(keras.utils.PyDataset):
    """Float32 batches of raw 0-255 pixels (and one-hot labels when given), optionally augmented.

    The order of an epoch and its augmentation depend only on (seed, epoch, batch), never on what
    ran before: the same run repeats exactly, and a resumed run continues it (set `epoch`).
    """

    def __init__(
        self,
        pixels: np.ndarray,
        labels: np.ndarray | None,
        num_classes: int,
        batch_size: int,
        shuffle: bool = False,
        augmenter: Augmenter | None = None,
        seed: Sequence[int] = (0,),
    ):
        super().__init__()
        self.pixels, self.labels = pixels, labels
        self.num_classes, self.batch_size = num_classes, batch_size
        self.shuffle, self.augmenter, self.seed = shuffle, augmenter, list(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return max(1, -(-len(self.pixels) // self.batch_size))

    @property
    def order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.pixels))
        return np.random.default_rng([*self.seed, self.epoch]).permutation(len(self.pixels))

    def __getitem__(self, index: int):
        take = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.pixels[take]
        if self.augmenter is not None:
            batch = self.augmenter(batch, self.epoch, index)
        x = batch.astype(np.float32)
        if self.labels is None:
            return x
        return x, one_hot(self.labels[take], self.num_classes)

    def on_epoch_end(self) -> None:
        self.epoch += 1


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]
