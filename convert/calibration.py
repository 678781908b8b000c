"""The representative dataset for int8 calibration: training images only, every class represented.

Calibration sets the int8 ranges of every activation. Drawing it from the test split would leak the
test set into the model; drawing it from one class would clip the activations of the others. Segmented
copies (black background), which a run may train on, are left out: the microscope never shows one.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from convert.progress import progress
from edge_all.runtime.images import ImageError, Preprocessing, prepare
from training.dataset import ImageRecord, Split


@dataclass
class CalibrationSet:
    """Prepared uint8 pixels (N, H, W, 3) and where they came from."""

    pixels: np.ndarray
    per_class: dict[str, int]
    files: list[str]
    skipped: list[str] = field(default_factory=list)  # one-line reasons

    def summary(self) -> dict:
        return {
            "source": "train split",
            "samples": int(len(self.pixels)),
            "per_class": self.per_class,
            "files": self.files,
            "skipped": self.skipped,
        }


def select_stratified(records: list[ImageRecord], samples: int, seed: int = 0) -> list[ImageRecord]:
    """Up to `samples` records, taken round-robin over classes from a seeded shuffle of each class.

    Classes get equal shares while they last; a small class gives all it has and the others fill in.
    """
    by_class: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.file):
        by_class[record.label].append(record)
    rng = random.Random(seed)
    queues = []
    for label in sorted(by_class):
        items = list(by_class[label])
        rng.shuffle(items)
        queues.append(items)
    chosen: list[ImageRecord] = []
    while len(chosen) < samples and any(queues):
        for queue in queues:
            if queue and len(chosen) < samples:
                chosen.append(queue.pop(0))
    return chosen


def load_calibration(
    split: Split,
    samples: int,
    size: tuple[int, int],
    prep: Preprocessing,
    show_progress: bool = True,
) -> CalibrationSet:
    """Prepare the chosen training images exactly as the device will (edge_all.runtime.images.prepare)."""
    if samples < 1:
        raise ValueError("calibration needs at least one sample")
    train = split.part("train")
    originals = [r for r in train if r.variant != "segmented"]
    chosen = select_stratified(originals or train, samples, seed=split.seed)
    height, width = size
    pixels: list[np.ndarray] = []
    per_class: dict[str, int] = {}
    files: list[str] = []
    skipped: list[str] = []
    for record in progress(chosen, "Loading calibration images", len(chosen), show_progress):
        try:
            pixels.append(prepare(split.path(record), height, width, prep))
        except ImageError as exc:
            skipped.append(str(exc))
            continue
        per_class[record.label] = per_class.get(record.label, 0) + 1
        files.append(record.file)
    stacked = np.stack(pixels) if pixels else np.zeros((0, height, width, 3), np.uint8)
    return CalibrationSet(pixels=stacked, per_class=per_class, files=files, skipped=skipped)


def representative_dataset(calibration: CalibrationSet, show_progress: bool = True) -> Callable[[], Iterator]:
    """The converter's generator: one float32 [1, H, W, 3] batch of raw 0-255 pixels at a time.

    The first image carries one black and one white pixel, so the input's quantization spans the
    whole 0-255 pixel range (scale 1, zero point 0 for uint8 I/O): a bright background is never
    clipped, and raw camera pixels are the model's input as they are, as pycoral and the runtime's
    fast path expect. Two pixels of one image leave every other range as calibration found it.
    """

    def generate() -> Iterator[list[np.ndarray]]:
        items = progress(calibration.pixels, "Calibrating", len(calibration.pixels), show_progress)
        for k, pixels in enumerate(items):
            sample = pixels[None].astype(np.float32)
            if k == 0:
                sample[0, 0, 0, :] = 0.0
                sample[0, 0, -1, :] = 255.0
            yield [sample]

    return generate
