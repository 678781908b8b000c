"""Read a split's images into memory and feed them to Keras in batches.

Every image goes through edge_all.runtime.images.prepare with the same Preprocessing the bundle records, so
the pixels the model trains on are the pixels the device will give it.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from edge_all.runtime.images import ImageError, Preprocessing, prepare
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
    """Float32 batches of raw 0-255 pixels (or cached backbone features), with one-hot labels when
    given, optionally augmented.

    The order of an epoch and its augmentation depend only on (seed, epoch, batch), never on what
    ran before: the same run repeats exactly, and a resumed run continues it (set `epoch`). Fit
    with `shuffle=False`: Keras's own shuffle of batch indices draws from Python's global RNG,
    which a resumed process cannot continue.

    Data-parallel training splits every batch over `replicas` devices, so a short last batch is
    topped up to a multiple of `replicas` with the epoch's first images (at most replicas - 1
    repeats); `shard` (process index, process count) hands each host its contiguous slice of every
    global batch, so the hosts' slices, in process order, are the batch one host would train on.
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
        replicas: int = 1,
        shard: tuple[int, int] = (0, 1),
    ):
        super().__init__()
        self.pixels, self.labels = pixels, labels
        self.num_classes, self.batch_size = num_classes, batch_size
        self.shuffle, self.augmenter, self.seed = shuffle, augmenter, list(seed)
        self.replicas, self.shard = replicas, shard
        self.epoch = 0
        self.fingerprint = ""  # of the batches served in the epoch that ended last (see on_epoch_end)
        self._served: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return max(1, -(-len(self.pixels) // self.batch_size))

    @property
    def order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.pixels))
        return np.random.default_rng([*self.seed, self.epoch]).permutation(len(self.pixels))

    def take(self, index: int) -> np.ndarray:
        """The indices of the images of batch `index` of this epoch that this process feeds."""
        whole = self._whole(index)
        first, rows = self._rows(len(whole))
        return whole[first : first + rows]

    def _whole(self, index: int) -> np.ndarray:
        """Batch `index` over every device of every process, topped up to a multiple of `replicas`."""
        order = self.order
        whole = order[index * self.batch_size : (index + 1) * self.batch_size]
        short = -len(whole) % self.replicas
        return np.concatenate([whole, np.resize(order, short)]) if short else whole

    def _rows(self, size: int) -> tuple[int, int]:
        """(first row, rows) of a whole batch of `size` that this process feeds."""
        process, processes = self.shard
        return process * (size // processes), size // processes

    def __getitem__(self, index: int):
        whole = self._whole(index)
        first, rows = self._rows(len(whole))
        take = whole[first : first + rows]
        self._served[index] = whole  # every host fingerprints the whole batch: they agree
        batch = self.pixels[take]
        if self.augmenter is not None:
            batch = self.augmenter(batch, self.epoch, index, first)
        x = batch.astype(np.float32)
        if self.labels is None:
            return x
        return x, one_hot(self.labels[take], self.num_classes)

    def on_epoch_end(self) -> None:
        """Fingerprint what the epoch fed (which images, in which batches, with which augmentation
        draws), then move to the next epoch's order."""
        digest = hashlib.sha256(np.array([*self.seed, self.epoch], np.int64).tobytes())
        for index in sorted(self._served):
            digest.update(np.array([index, *self._served[index]], np.int64).tobytes())
        self.fingerprint = digest.hexdigest()[:16]
        self._served = {}
        self.epoch += 1


def predict_all(model: keras.Model, batches: ImageBatches, verbose: int = 0) -> np.ndarray:
    """The model's outputs for every image of unshuffled `batches`, without the top-up repeats."""
    return model.predict(batches, verbose=verbose)[: len(batches.pixels)]


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]
