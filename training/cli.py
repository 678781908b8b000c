"""`edge-all train` and `edge-all evaluate`: fit a model on a dataset folder, re-score a saved run.

Only typer and the standard library at module level: Keras loads inside the commands, after the
dataset has been checked, so a wrong folder fails in a second with one line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_all.errors import EdgeAllError
from edge_all.exit_codes import EPILOG
from edge_all.extras import require_extra
from training.config import TrainConfig


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train_command(
    data: Annotated[
        Path, typer.Option("--data", help="Dataset folder: ROOT/Original/<class>/ (Kaggle) or ROOT/<class>/.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Run dir to write (model.keras, split.json, reports).")],
    backbone: Annotated[
        str, typer.Option(help="resnet50 (the seed model), mobilenetv2 (edge) or tiny.")
    ] = TrainConfig.backbone,
    weights: Annotated[
        str,
        typer.Option(
            help="imagenet (downloaded by Keras), none (random init, all layers train) or a weights FILE.",
        ),
    ] = TrainConfig.weights,
    head: Annotated[
        str | None, typer.Option(help="flatten (seed's, default for resnet50) or gap (default otherwise).")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = TrainConfig.epochs,
    learning_rate: Annotated[
        float, typer.Option(help="Learning rate of the first phase (Adam); see --distribute.")
    ] = TrainConfig.learning_rate,
    fine_tune_epochs: Annotated[
        int, typer.Option(min=0, help="Then unfreeze the top of the backbone for N epochs.")
    ] = TrainConfig.fine_tune_epochs,
    fine_tune_layers: Annotated[
        int, typer.Option(min=1, help="How many of the backbone's top layers fine-tuning unfreezes.")
    ] = TrainConfig.fine_tune_layers,
    fine_tune_lr: Annotated[
        float, typer.Option(help="Learning rate of the fine-tuning phase.")
    ] = TrainConfig.fine_tune_learning_rate,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Images per step (the global batch with --distribute).")
    ] = TrainConfig.batch_size,
    lr_schedule: Annotated[
        str,
        typer.Option(
            "--lr-schedule",
            help="constant, or cosine: each phase on images decays its learning rate to zero.",
        ),
    ] = TrainConfig.lr_schedule,
    patience: Annotated[
        int,
        typer.Option(min=1, help="Stop a phase when validation loss has not improved for this many epochs."),
    ] = TrainConfig.patience,
    seed: Annotated[
        int, typer.Option(help="Seeds the split and the weights initialisation.")
    ] = TrainConfig.seed,
    include_segmented: Annotated[
        bool, typer.Option(help="Add Segmented/ copies to the training part only.")
    ] = TrainConfig.include_segmented,
    augment: Annotated[
        str,
        typer.Option(
            help="Augmentation policy for training batches: none, d4 (rotations and flips) or clinic-v1 "
            "(d4, scale, stain/colour, blur/sharpen/low resolution, JPEG; docs/results.md).",
        ),
    ] = TrainConfig.augment,
    class_weight: Annotated[
        str, typer.Option(help="none, or balanced: weigh each class's loss inversely to its image count.")
    ] = TrainConfig.class_weight,
    image_size: Annotated[
        int, typer.Option(min=32, help="Square input size in pixels.")
    ] = TrainConfig.image_size,
    split: Annotated[
        Path | None, typer.Option("--split", help="Reuse this split.json instead of splitting again.")
    ] = None,
    distribute: Annotated[
        bool,
        typer.Option(
            help="Data-parallel over every visible GPU/TPU (needs KERAS_BACKEND=jax); --batch-size is "
            "global. Several hosts: set KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES "
            "and KERAS_DISTRIBUTION_PROCESS_ID on each (docs/training.md).",
        ),
    ] = TrainConfig.distribute,
    precision: Annotated[
        str,
        typer.Option(
            help="float32, or bfloat16 / float16: mixed precision on accelerators (the saved model "
            "stays float32)."
        ),
    ] = TrainConfig.precision,
    task: Annotated[
        str,
        typer.Option(
            help="field (a whole-field classifier, --data the ALL dataset) or cells (a cell model: --data "
            "holds ALL/, pbc-normal/ and chula-fields/; options left at their defaults take the recipe's, "
            "training.config.RECIPES; docs/model-card-cells.md).",
        ),
    ] = TrainConfig.task,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the interrupted run in --out from its last completed epoch (same options; "
            "starts one if --out holds none)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite a run dir that already holds a run.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars or summary.")] = False,
) -> None:
    """Train a classifier and write a run dir with the best checkpoint, the split and reports."""
    require_extra("train", ("keras", "matplotlib", "albumentations"), "`edge-all train`")
    from training.config import ConfigError
    from training.prepare import prepare_split, split_to_resume
    from training.run_dir import REPORT_FILE

    config = TrainConfig.with_recipe(
        task,
        data=data,
        out=out,
        backbone=backbone,
        weights=weights,
        head=head,
        epochs=epochs,
        learning_rate=learning_rate,
        fine_tune_epochs=fine_tune_epochs,
        fine_tune_layers=fine_tune_layers,
        fine_tune_learning_rate=fine_tune_lr,
        batch_size=batch_size,
        lr_schedule=lr_schedule,
        patience=patience,
        seed=seed,
        include_segmented=include_segmented,
        augment=augment,
        class_weight=class_weight,
        image_size=image_size,
        split_file=split,
        distribute=distribute,
        precision=precision,
        verbose=0 if quiet else 1,
    )
    resuming = _check_run_dir(config, resume, force)
    prepared = split_to_resume(config) if resuming else None
    prepared = prepared or prepare_split(config)

    _quiet_tensorflow()
    from training.train import train

    # a scheduler's SIGTERM (preemption) stops like Ctrl-C: progress.json records it, --resume continues
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = train(config, split=prepared, resume=resuming)
    except MemoryError:
        raise ConfigError("out of memory: try a smaller --batch-size or --image-size") from None
    except KeyboardInterrupt:
        raise EdgeAllError(
            f"{out}: training interrupted; continue it with the same command and --resume"
        ) from None
    print(f"run dir: {result.run_dir} (report: {result.run_dir / REPORT_FILE})")


def _check_run_dir(config: TrainConfig, resume: bool, force: bool) -> bool:
    """Whether to resume the run in config.out; refuses, in one line, what would lose or mix runs."""
    from training.config import ConfigError
    from training.run_dir import KERAS_MODEL_FILE, describe_unfinished, read_progress, still_running

    out = config.out
    if resume and force:
        raise ConfigError("--resume continues a run and --force starts it over: choose one")
    progress = read_progress(out)
    finished = (out / KERAS_MODEL_FILE).exists() and (
        progress is None or progress.get("status") == "finished"
    )
    if progress is not None and still_running(progress):
        raise ConfigError(f"{out}: {describe_unfinished(progress)}; stop it first or choose another --out")
    if force:
        return False
    if finished:
        what = "has nothing to resume: it finished" if resume else "already holds a trained model"
        raise ConfigError(f"{out}: {what}; choose another --out or pass --force")
    if progress is None:
        if resume:
            print(f"{out}: nothing to resume there; starting the run", file=sys.stderr)
        return False
    if not resume:
        raise ConfigError(
            f"{out}: holds an unfinished run ({describe_unfinished(progress)}); pass --resume to continue "
            "it or --force to start over"
        )
    changed = config.changed_from(progress.get("config", {}))
    if changed:
        raise ConfigError(
            f"{out}: --resume continues the run with the settings it started with, but {'; '.join(changed)}"
        )
    return True


def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A run dir written by `edge-all train`.")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Score every image of this dataset folder instead.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = TrainConfig.batch_size,
    robustness: Annotated[
        bool,
        typer.Option(
            "--robustness",
            help="Also score the images under the robustness battery (rotations, JPEG, blur, colour, "
            "resolution): accuracy, per-class recall, malignant called Benign.",
        ),
    ] = False,
) -> None:
    """Re-score a run's saved model on its test split, or on every image of another dataset folder."""
    require_extra("train", ("keras",), "`edge-all evaluate`")
    from training.run_dir import open_run

    run = open_run(run_dir)  # a wrong folder fails here, before Keras loads
    _quiet_tensorflow()
    from training.evaluate import evaluate_run
    from training.reports import IMAGE_LEVEL_WARNING, format_parts
    from training.robustness import format_table, to_json

    result = evaluate_run(run, data=data, batch_size=batch_size, robustness=robustness)
    for skipped in result.skipped:
        print(f"warning: skipped {skipped.file}: {skipped.reason}", file=sys.stderr)
    if result.seen_in_training:
        print(
            f"warning: {len(result.seen_in_training)} of these images are byte-identical to images the "
            f"model trained or was validated on (e.g. {result.seen_in_training[0]}); the scores are not "
            "independent",
            file=sys.stderr,
        )
    if as_json:
        doc = {
            "run_dir": str(run_dir),
            "source": result.source,
            "metrics": result.metrics,
            "skipped": [{"file": s.file, "reason": s.reason} for s in result.skipped],
            "seen_in_training": result.seen_in_training,
            "note": IMAGE_LEVEL_WARNING if data is None else None,
            "robustness": to_json(result.robustness) if result.robustness is not None else None,
        }
        print(json.dumps(doc, indent=1))
        return
    print(f"{run_dir}: {result.source}")
    print(format_parts(result.metrics))
    if result.robustness is not None:
        print("\nrobustness battery (the same images, changed as another microscope would change them):")
        print(format_table(result.robustness, run.info.classes))
    if data is None:
        print("NOTE: " + IMAGE_LEVEL_WARNING)


def register(app: typer.Typer) -> None:
    """Add `train` and `evaluate` to the `edge-all` app."""
    app.command("train", epilog=EPILOG)(train_command)
    app.command("evaluate", epilog=EPILOG)(evaluate_command)
