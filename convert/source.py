"""The run dir a conversion starts from: its float model, its split, and what the bundle inherits.

Everything a user can get wrong about a run dir (no model, no split, moved images, a model that does
not take [None, H, W, 3] pixels) is found here, before any slow work, and named in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convert.errors import ConvertError
from edge_all.runtime.images import Preprocessing
from training.dataset import DatasetError, Split, check_files_present, read_split
from training.run_dir import RunError, open_run


@dataclass(frozen=True)
class RunSource:
    """A run dir whose model and split exist; the model itself is loaded later (it needs Keras)."""

    run_dir: Path
    model_path: Path
    split: Split
    labels: list[str]
    preprocessing: Preprocessing  # the geometry training used (config.json), which the bundle records
    cells: dict[str, Any] | None = None  # a cell run's cells.json (training.cells_data): a format-3 bundle


def open_source(run_dir: str | Path, parts: tuple[str, ...]) -> RunSource:
    """Check RUN_DIR is a finished run whose split images for `parts` are all still on disk."""
    try:
        run = open_run(run_dir)
        split = read_split(run.split_path)
        if parts:
            check_files_present(split, parts)
    except (RunError, DatasetError) as exc:
        raise ConvertError(str(exc)) from None
    try:
        preprocessing = Preprocessing.from_dict(run.info.preprocessing)
    except (ValueError, TypeError) as exc:
        raise ConvertError(f"{run.dir}: unusable preprocessing in its run config ({exc})") from None
    return RunSource(
        run_dir=run.dir,
        model_path=run.model_path,
        split=split,
        labels=list(run.info.classes),
        preprocessing=preprocessing,
        cells=_cells_of(run.dir),
    )


def _cells_of(run_dir: Path) -> dict[str, Any] | None:
    from training.cells_data import read_cells_file

    try:
        return read_cells_file(run_dir)
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{run_dir}: unreadable cells.json ({exc})") from None


def load_float_model(source: RunSource) -> Any:
    """Load model.keras and check it takes [None, H, W, 3] pixels and gives one score per label."""
    import keras

    from training.models import load_model  # registers training's custom layers, then keras.saving

    if keras.backend.backend() != "tensorflow":
        raise ConvertError(
            f"convert needs Keras's TensorFlow backend, this process has {keras.backend.backend()!r} "
            "(set KERAS_BACKEND=tensorflow; a model trained on any backend converts)"
        )
    try:
        model = load_model(source.model_path)
    except RunError as exc:
        raise ConvertError(str(exc)) from None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConvertError(
            f"{source.model_path}: expected one image input and one output, "
            f"got {len(model.inputs)} input(s) and {len(model.outputs)} output(s)"
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[0] not in (None, 1) or shape[3] != 3 or shape[1] is None or shape[2] is None:
        raise ConvertError(
            f"{source.model_path}: unexpected model input {list(shape)} (expected [None, H, W, 3] RGB pixels)"
        )
    out = tuple(model.outputs[0].shape)
    if len(out) != 2 or out[1] != len(source.labels):
        raise ConvertError(
            f"{source.model_path}: model output {list(out)} does not give one score for each of the "
            f"{len(source.labels)} classes of the split ({', '.join(source.labels)})"
        )
    return model


def model_input_size(model: Any) -> tuple[int, int]:
    """(height, width) of a model that passed load_float_model."""
    shape = model.inputs[0].shape
    return int(shape[1]), int(shape[2])
