"""Score a saved model on images: the run's own splits, or every image of another dataset folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.config import TrainConfig
from training.dataset import (
    DatasetError,
    Skipped,
    Split,
    check_files_present,
    discover,
    read_split,
    unique_images,
)
from training.loading import ImageBatches, LoadedImages, load_images
from training.metrics import classification_metrics
from training.robustness import ConditionResult, run_battery
from training.run_dir import Run


def predict_classes(model, images: LoadedImages, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
    """Class index per image, from the model's softmax."""
    if len(images.labels) == 0:
        return np.zeros(0, np.int64)
    batches = ImageBatches(images.pixels, None, model.output_shape[-1], batch_size)
    probabilities = model.predict(batches, verbose=verbose)
    return np.argmax(probabilities, axis=-1)


def score(model, images: LoadedImages, classes: tuple[str, ...], batch_size: int = 32) -> dict:
    return classification_metrics(images.labels, predict_classes(model, images, batch_size), classes)


def battery_of(
    model, images: LoadedImages, classes: tuple[str, ...], batch_size: int = 32
) -> list[ConditionResult]:
    """The Keras model on `images` under every condition of the robustness battery."""

    def predict(pixels: np.ndarray) -> np.ndarray:
        batches = ImageBatches(pixels, None, model.output_shape[-1], batch_size)
        return np.asarray(model.predict(batches, verbose=0))

    return run_battery(predict, images.pixels, images.labels, classes)


def image_size_of(model) -> int:
    return int(model.input_shape[1])


@dataclass
class Evaluation:
    """Metrics of a saved model on named image sets (e.g. "test", or "all" for another dataset)."""

    run_dir: Path
    source: str  # what was evaluated, in words
    metrics: dict[str, dict]
    skipped: list[Skipped]
    seen_in_training: list[str] = field(default_factory=list)  # files whose bytes the model trained on
    robustness: list[ConditionResult] | None = None  # the same images under the battery, when asked


def evaluate_run(
    run: Run,
    data: str | Path | None = None,
    batch_size: int = TrainConfig.batch_size,
    robustness: bool = False,
) -> Evaluation:
    """Re-score the run's best model on its test split, or on every original image of `data`;
    with `robustness`, also under every condition of the robustness battery."""
    from training.models import load_model

    split = read_split(run.split_path)
    seen: list[str] = []
    if data is None:
        check_files_present(split, ("test",))
        records, source, name = split.part("test"), f"test split of {split.root}", "test"
    else:
        trained_on = {r.sha256 for r in split.images if r.part in ("train", "val")}
        dataset = discover(data, include_segmented=False)
        records = unique_images(dataset.images)
        seen = [r.file for r in records if r.sha256 in trained_on]
        split = Split(Path(data), split.classes, records, 0, 0.0, 0.0, False, skipped=dataset.skipped)
        source, name = f"every image of {data}", "all"
    if not records:
        raise DatasetError(f"{split.root}: no images to evaluate")
    model = load_model(run.model_path)
    images = load_images(split, records, image_size_of(model))
    return Evaluation(
        run_dir=run.dir,
        source=source,
        metrics={name: score(model, images, split.classes, batch_size)},
        skipped=[*split.skipped, *images.skipped] if data is not None else images.skipped,
        seen_in_training=seen,
        robustness=battery_of(model, images, split.classes, batch_size) if robustness else None,
    )
