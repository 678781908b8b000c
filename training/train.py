"""One training run, start to finish: split, build, fit, keep the best checkpoint, evaluate, report.

With a frozen pretrained backbone and no augmentation the backbone's outputs are computed once per
image and only the head trains on them (the same result as re-running the frozen base every epoch,
many times faster). With an augmentation policy (training.augment) every phase trains on freshly
augmented images. The saved model.keras is always the whole network on raw pixels.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from training.augment import NONE, Augmenter
from training.config import TrainConfig
from training.dataset import DatasetError, Split, write_split
from training.evaluate import battery_of, score
from training.loading import ImageBatches, LoadedImages, load_images, one_hot
from training.models import build_classifier, compile_model, load_model, unfreeze_top
from training.prepare import log as _log
from training.prepare import prepare_split
from training.run_dir import KERAS_MODEL_FILE, RUN_FILES, SPLIT_FILE


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict  # part ("train", "val", "test") -> classification metrics
    history: dict
    wall_seconds: float


class SaveBestFullModel(keras.callbacks.Callback):
    """ModelCheckpoint on val_loss that saves the whole network even while only the head is fitting."""

    def __init__(self, full_model: keras.Model, path: Path):
        super().__init__()
        self.full_model, self.path = full_model, path
        self.best = math.inf
        self.best_epoch = -1
        self.epochs_seen = 0

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is not None and loss < self.best:
            self.best, self.best_epoch = float(loss), self.epochs_seen
            self.full_model.save(self.path)
        self.epochs_seen += 1


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_backend": keras.config.backend(),
    }


def class_weights(config: TrainConfig, labels: np.ndarray, num_classes: int) -> dict[int, float] | None:
    """Balanced weights let a small class (Benign is 16% of the public set) count as much as a large one."""
    if config.class_weight == "none":
        return None
    counts = np.bincount(labels, minlength=num_classes)
    return {c: float(len(labels) / (num_classes * n)) for c, n in enumerate(counts) if n}


def _fit_head_on_features(config, parts, train: LoadedImages, val: LoadedImages, callbacks) -> dict:
    """Run the frozen backbone once per image, then fit only the head on its outputs."""
    n = parts.model.output_shape[-1]
    _log("computing the frozen backbone's outputs once per image...")
    feats = {}
    for name, images in (("train", train), ("val", val)):
        batches = ImageBatches(images.pixels, None, n, config.batch_size)
        feats[name] = parts.features.predict(batches, verbose=config.verbose)
    compile_model(parts.head, config.learning_rate)
    history = parts.head.fit(
        feats["train"],
        one_hot(train.labels, n),
        validation_data=(feats["val"], one_hot(val.labels, n)),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        class_weight=class_weights(config, train.labels, n),
        callbacks=callbacks,
        verbose=config.verbose,
    )
    return history.history


def _fit_on_images(config, model, train, val, epochs, learning_rate, callbacks, phase: int) -> dict:
    """Fit on (augmented) images; each phase draws its own order and augmentation from (seed, phase)."""
    n = model.output_shape[-1]
    steps = epochs * -(-len(train.labels) // config.batch_size)
    compile_model(model, learning_rate, steps if config.lr_schedule == "cosine" else None)
    seed = (config.seed, phase)
    policy = config.augment_policy
    augmenter = Augmenter(policy, seed) if policy.build is not None else None
    history = model.fit(
        ImageBatches(train.pixels, train.labels, n, config.batch_size, True, augmenter, seed),
        validation_data=ImageBatches(val.pixels, val.labels, n, config.batch_size),
        epochs=epochs,
        class_weight=class_weights(config, train.labels, n),
        callbacks=callbacks,
        verbose=config.verbose,
    )
    return history.history


def _append(history: dict, new: dict, phase: str) -> None:
    for key, values in new.items():
        history.setdefault(key, []).extend(float(v) for v in values)
    history.setdefault("phase", []).extend([phase] * len(next(iter(new.values()), [])))


def fit(config: TrainConfig, parts, train_images: LoadedImages, val_images: LoadedImages, checkpoint) -> dict:
    """Fit the head (on cached features when the base is frozen and nothing is augmented), then
    optionally fine-tune the top of the backbone. Returns the merged history, one "phase" per epoch."""
    history: dict = {}

    def early_stop():
        return keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)

    if config.frozen_base and config.augment == NONE:
        phase = _fit_head_on_features(config, parts, train_images, val_images, [checkpoint, early_stop()])
    else:
        phase = _fit_on_images(
            config, parts.model, train_images, val_images, config.epochs, config.learning_rate,
            [checkpoint, early_stop()], phase=0,
        )  # fmt: skip
    _append(history, phase, "head" if config.frozen_base else "full")
    if config.fine_tune_epochs > 0:
        unfrozen = unfreeze_top(parts.base, config.fine_tune_layers)
        _log(
            f"fine-tuning the top {config.fine_tune_layers} backbone layers ({unfrozen} with weights; "
            f"BatchNorm frozen) at learning rate {config.fine_tune_learning_rate}"
        )
        phase = _fit_on_images(
            config, parts.model, train_images, val_images, config.fine_tune_epochs,
            config.fine_tune_learning_rate, [checkpoint, early_stop()], phase=1,
        )  # fmt: skip
        _append(history, phase, "fine-tune")
    return history


def train(config: TrainConfig, split: Split | None = None) -> TrainResult:
    """Train as `config` says and write the run dir; raises DatasetError/WeightsError/ConfigError early.

    `split` is the result of `prepare_split(config)` when the caller already made it.
    """
    from training.reports import print_summary, write_run_files

    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    split = split if split is not None else prepare_split(config)
    parts = build_classifier(config, num_classes=len(split.classes))  # weights fail here, before loading
    if config.verbose:
        parts.model.summary()
        _log(f"parameters: base {parts.base.count_params():,}, head {parts.head.count_params():,}")
    images = {
        part: load_images(
            split,
            split.part(part),
            config.image_size,
            _log,
            f"loading {part} images" if config.verbose else None,
        )
        for part in ("train", "val", "test")
    }
    if len(images["val"].labels) == 0 or len(images["train"].labels) == 0:
        raise DatasetError(f"{config.data}: no readable train or validation images")
    run_dir = config.out
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:  # a re-run (--force) must not leave the previous run's files beside its own
        (run_dir / name).unlink(missing_ok=True)
    write_split(split, run_dir / SPLIT_FILE)

    checkpoint = SaveBestFullModel(parts.model, run_dir / KERAS_MODEL_FILE)
    fit_started = time.perf_counter()
    history = fit(config, parts, images["train"], images["val"], checkpoint)
    fit_seconds = time.perf_counter() - fit_started

    best = load_model(run_dir / KERAS_MODEL_FILE)  # score the checkpoint that was saved, not the last epoch
    metrics = {p: score(best, images[p], split.classes, config.batch_size) for p in ("train", "val", "test")}
    if config.verbose:
        _log("scoring the test split under the robustness battery...")
    robustness = battery_of(best, images["test"], split.classes, config.batch_size)
    info = {
        "best_epoch": checkpoint.best_epoch + 1,
        "best_val_loss": checkpoint.best,
        "epochs_run": len(history.get("loss", [])),
        "fit_seconds": round(fit_seconds, 2),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "machine": machine_info(),
        "parameters": {
            "total": int(parts.model.count_params()),
            "base": int(parts.base.count_params()),
            "head": int(parts.head.count_params()),
        },
    }
    skipped = [*split.skipped, *(s for p in images.values() for s in p.skipped)]
    write_run_files(run_dir, config, split, metrics, robustness, history, info, skipped)
    if config.verbose:
        print_summary(metrics, info)
    return TrainResult(run_dir=run_dir, metrics=metrics, history=history, wall_seconds=info["wall_seconds"])
