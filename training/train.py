"""One training run, start to finish: split, build, fit, keep the best checkpoint, evaluate, report.

With a frozen pretrained backbone and no augmentation the backbone's outputs are computed once per
image and only the head trains on them (the same result as re-running the frozen base every epoch,
many times faster). With an augmentation policy (training.augment) every phase trains on freshly
augmented images. The saved model.keras is always the whole network on raw pixels, in float32.

Every epoch is committed to the run dir (training.resume), so an interrupted run continues with
`--resume`; `--distribute` fits data-parallel on every visible device (training.distribute), and
`--precision` computes in 16 bits (training.precision). Scoring always runs on one device, in float32.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from training.augment import NONE, Augmenter
from training.config import ConfigError, TrainConfig
from training.dataset import DatasetError, Split, write_split
from training.distribute import Replicas, distributed, replicas_for
from training.evaluate import battery_of, score
from training.loading import ImageBatches, LoadedImages, load_images, predict_all
from training.models import ClassifierParts, build_classifier, compile_model, load_model, unfreeze_top
from training.precision import dtype_policy
from training.prepare import log as _log
from training.prepare import prepare_split, split_to_resume
from training.resume import Checkpoints, Phase, history_of
from training.run_dir import RESUME_DIR, RUN_FILES, SPLIT_FILE, read_progress


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict  # part ("train", "val", "test") -> classification metrics
    history: dict
    wall_seconds: float


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


def plan(config: TrainConfig) -> list[Phase]:
    """The head (on cached features when the base is frozen and nothing is augmented) or the whole
    network from scratch; then, optionally, fine-tuning the top of the backbone."""
    phases = [
        Phase(
            0,
            "head" if config.frozen_base else "full",
            config.epochs,
            config.learning_rate,
            on_features=config.frozen_base and config.augment == NONE,
        )
    ]
    if config.fine_tune_epochs > 0:
        phases.append(Phase(1, "fine-tune", config.fine_tune_epochs, config.fine_tune_learning_rate, False))
    return phases


def _phase_data(
    config: TrainConfig,
    parts: ClassifierParts,
    phase: Phase,
    train: LoadedImages,
    val: LoadedImages,
    replicas: Replicas,
) -> tuple[keras.Model, ImageBatches, ImageBatches]:
    """The model a phase fits and its batches; each phase draws its own order and augmentation
    from (seed, phase)."""
    n = parts.model.output_shape[-1]

    def batches(x, labels, **kwargs) -> ImageBatches:
        return ImageBatches(
            x, labels, n, config.batch_size, replicas=replicas.count, shard=replicas.shard, **kwargs
        )

    seed = (config.seed, phase.index)
    if phase.on_features:
        _log("computing the frozen backbone's outputs once per image...")
        features = [
            predict_all(parts.features, batches(part.pixels, None), config.verbose) for part in (train, val)
        ]
        return (
            parts.head,
            batches(features[0], train.labels, shuffle=True, seed=seed),
            batches(features[1], val.labels),
        )
    policy = config.augment_policy
    augmenter = Augmenter(policy, seed) if policy.build is not None else None
    return (
        parts.model,
        batches(train.pixels, train.labels, shuffle=True, augmenter=augmenter, seed=seed),
        batches(val.pixels, val.labels),
    )


def fit(
    config: TrainConfig,
    parts: ClassifierParts,
    train_images: LoadedImages,
    val_images: LoadedImages,
    checkpoints: Checkpoints,
    replicas: Replicas,
) -> None:
    """Fit each phase of `plan(config)` that `checkpoints` has not finished, from where it stopped."""
    checkpoints.restore_finished_phase(parts.model)
    n = parts.model.output_shape[-1]
    for phase in plan(config):
        if not checkpoints.phase_needed(phase):
            continue
        if phase.name == "fine-tune":
            unfrozen = unfreeze_top(parts.base, config.fine_tune_layers)
            _log(
                f"fine-tuning the top {config.fine_tune_layers} backbone layers ({unfrozen} with weights; "
                f"BatchNorm frozen) at learning rate {config.fine_tune_learning_rate}"
            )
        fitted, train_data, val_data = _phase_data(config, parts, phase, train_images, val_images, replicas)
        # cosine: a phase on images decays its rate to zero over its steps (a resumed run's restored
        # optimizer step count puts it where it was)
        cosine = config.lr_schedule == "cosine" and not phase.on_features
        compile_model(fitted, phase.learning_rate, phase.epochs * len(train_data) if cosine else None)
        initial, last, callbacks = checkpoints.begin_phase(phase, fitted, config.patience, train_data)
        if initial:
            _log(f"resuming the {phase.name} phase after its epoch {initial} of {phase.epochs}")
        fitted.fit(
            train_data,
            validation_data=val_data,
            epochs=last,
            initial_epoch=initial,
            shuffle=False,  # ImageBatches shuffles by (seed, phase, epoch), which a resumed run repeats
            class_weight=class_weights(config, train_images.labels, n),
            callbacks=callbacks,
            verbose=config.verbose,
        )
        checkpoints.end_phase(phase, parts.model)


def _stop_reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGTERM)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def train(config: TrainConfig, split: Split | None = None, resume: bool = False) -> TrainResult:
    """Train as `config` says and write the run dir; raises DatasetError/WeightsError/ConfigError early.

    `split` is the result of `prepare_split(config)` when the caller already made it (or, resuming,
    the run dir's own split). `resume`: continue the unfinished run in `config.out` from its last
    completed epoch (a run dir that holds nothing yet starts afresh).
    """
    from training.reports import print_summary, write_run_files

    started = time.perf_counter()
    run_dir = config.out
    progress = read_progress(run_dir) if resume else None
    if progress is not None and progress.get("status") == "finished":
        raise ConfigError(f"{run_dir}: has nothing to resume: it finished")
    resume = progress is not None
    replicas = replicas_for(config)  # first: several hosts meet before anything runs on a device
    if replicas.processes > 1 and plan(config)[0].on_features:
        raise ConfigError(
            "several hosts fit on images: add --augment (e.g. d4), or train the head on cached "
            "features on one host (it is quick)"
        )
    keras.utils.set_random_seed(config.seed)
    if split is None:
        split = (split_to_resume(config) if resume else None) or prepare_split(config)
    with dtype_policy(config.precision), distributed(replicas):
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
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:  # a re-run (--force) must not leave the previous run's files beside its own
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
        shutil.rmtree(run_dir / RESUME_DIR, ignore_errors=True)
        write_split(split, run_dir / SPLIT_FILE)
    checkpoints = Checkpoints(run_dir, config, parts.model, resume)
    try:
        with dtype_policy(config.precision), distributed(replicas):
            fit(config, parts, images["train"], images["val"], checkpoints, replicas)
        # one device, float32: score the checkpoint that was saved, not the last epoch
        best = load_model(checkpoints.best_model_path)
        metrics = {
            p: score(best, images[p], split.classes, config.batch_size) for p in ("train", "val", "test")
        }
        if config.verbose:
            _log("scoring the test split under the robustness battery...")
        robustness = battery_of(best, images["test"], split.classes, config.batch_size)
        state = checkpoints.state
        info = {
            "best_epoch": state.best_epoch,
            "best_val_loss": state.best,
            "epochs_run": len(state.rows),
            # summed over every process that worked on the run (it may have been resumed); the wall
            # time counts only the fitting of the earlier processes, not their start-up or the pause
            "fit_seconds": round(state.fit_seconds, 2),
            "wall_seconds": round(time.perf_counter() - started + checkpoints.earlier_fit_seconds, 2),
            "machine": machine_info(),
            "parameters": {
                "total": int(parts.model.count_params()),
                "base": int(parts.base.count_params()),
                "head": int(parts.head.count_params()),
            },
        }
        if config.distribute:
            info["distribution"] = replicas.describe()
        skipped = [*split.skipped, *(s for part in images.values() for s in part.skipped)]
        history = history_of(state.rows)
        write_run_files(run_dir, config, split, metrics, robustness, history, info, skipped)
        checkpoints.finish()  # model.keras appears last: a run dir that has it is complete
    except BaseException as exc:
        checkpoints.stopped(_stop_reason(exc))
        raise
    if config.verbose:
        print_summary(metrics, info)
    return TrainResult(run_dir=run_dir, metrics=metrics, history=history, wall_seconds=info["wall_seconds"])
