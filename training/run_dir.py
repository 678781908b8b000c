"""The run dir: what `edge-all train` writes and `evaluate`, `convert` and the benchmarks read.

    model.keras          the best checkpoint: the whole network, raw 0-255 RGB pixels in
    split.json           the split, made once and reused by everything after (training.dataset)
    config.json          FORMAT_VERSION, the run's settings, and what RunInfo describes
    metrics.json, history.json, report.txt, confusion_matrix.png, training_curves.png, robustness.png
    progress.json        what happened: running, stopped (and why), resumed, finished; with the
                         phase and epoch reached (training.resume writes it after every epoch)
    resume/              while unfinished: what a resumed run continues from (training.resume)

model.keras appears last, when everything else is written: a run dir without it did not finish,
and its progress.json says where it stopped and that `edge-all train --resume` continues it.

Every reader and writer takes the names from here and opens a run with `open_run`. Standard
library only, so a command finds a missing or incomplete run dir in milliseconds, before Keras loads.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_all.errors import EdgeAllError

FORMAT_VERSION = 1  # of config.json; a run written before the field existed is version 1
KERAS_MODEL_FILE = "model.keras"
SPLIT_FILE = "split.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
REPORT_FILE = "report.txt"
CONFUSION_PLOT = "confusion_matrix.png"
CURVES_PLOT = "training_curves.png"
ROBUSTNESS_PLOT = "robustness.png"
PROGRESS_FILE = "progress.json"
RESUME_DIR = "resume"
RUN_FILES = (
    KERAS_MODEL_FILE,
    SPLIT_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    REPORT_FILE,
    CONFUSION_PLOT,
    CURVES_PLOT,
    ROBUSTNESS_PLOT,
    PROGRESS_FILE,
)
# What a finished run must hold before anything reads it, and what its absence means.
_REQUIRED = (
    (KERAS_MODEL_FILE, "not a training run dir, or training did not finish"),
    (SPLIT_FILE, "the split training used is needed"),
    (CONFIG_FILE, "training did not finish"),
)


class RunError(EdgeAllError):
    """A run dir that cannot be used (missing, incomplete, or from an unknown format)."""


@dataclass(frozen=True)
class RunInfo:
    """What a run's model is: its classes in output order, its input size, and how its pixels were made."""

    classes: tuple[str, ...]
    image_size: int  # square input, pixels
    backbone: str
    # edge_all.runtime.images.Preprocessing.to_dict(): the geometry training read its images with
    preprocessing: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The keys config.json holds beside the settings (`backbone` lives in the settings)."""
        size = self.image_size
        return {
            "classes": list(self.classes),
            "image_size": size,
            "input": {"shape": [size, size, 3], "range": [0, 255], "dtype": "float32"},
            "preprocessing": dict(self.preprocessing),
        }

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> RunInfo:
        return cls(
            classes=tuple(str(c) for c in data["classes"]),
            image_size=int(data["image_size"]),
            backbone=str(data["config"]["backbone"]),
            preprocessing={str(k): str(v) for k, v in data.get("preprocessing", {}).items()},
        )


@dataclass(frozen=True)
class Run:
    """A run dir that `open_run` checked: its files are there and its config.json is one this reads."""

    dir: Path
    info: RunInfo

    @property
    def model_path(self) -> Path:
        return self.dir / KERAS_MODEL_FILE

    @property
    def split_path(self) -> Path:
        return self.dir / SPLIT_FILE


def open_run(run_dir: str | Path) -> Run:
    """Check that RUN_DIR is a finished run this version reads; RunError names what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: run dir not found")
    progress = read_progress(run_dir)
    if progress is not None and progress.get("status") != "finished":
        raise RunError(
            f"{run_dir}: training did not finish ({describe_unfinished(progress)}); continue it with "
            f"`edge-all train --resume --out {run_dir}` and the options it started with"
        )
    for name, meaning in _REQUIRED:
        if not (run_dir / name).is_file():
            raise RunError(f"{run_dir}: no {name} ({meaning})")
    path = run_dir / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.get("format_version", 1)
        if version != FORMAT_VERSION:
            raise RunError(
                f"{path}: run format version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        info = RunInfo.from_config(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunError(f"{path}: unreadable run config ({exc!r})") from None
    return Run(run_dir, info)


def write_config(run_dir: Path, info: RunInfo, settings: dict[str, Any], facts: dict[str, Any]) -> None:
    """config.json: the format version, the run's settings (TrainConfig), the RunInfo, then `facts`."""
    write_json(
        run_dir / CONFIG_FILE,
        {"format_version": FORMAT_VERSION, "config": settings, **info.to_dict(), **facts},
    )


def write_json(path: Path, data: dict[str, Any]) -> None:
    """The run dir's JSON files: indented, one trailing newline, replaced whole (a crash leaves the
    old file or the new one, never half of one)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


def read_progress(run_dir: Path) -> dict[str, Any] | None:
    """progress.json, or None for a run written before it existed (those always finished)."""
    path = Path(run_dir) / PROGRESS_FILE
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise RunError(f"{path}: unreadable progress file ({exc!r})") from None


def reached(progress: dict[str, Any]) -> str:
    """How far an unfinished run got, e.g. "after epoch 2 of 4 of its fine-tune phase"."""
    if not progress.get("epochs_done"):
        return "before its first epoch ended"
    return (
        f"after epoch {progress.get('phase_epoch')} of {progress.get('phase_epochs')} "
        f"of its {progress.get('phase')} phase"
    )


def still_running(progress: dict[str, Any]) -> bool:
    """Whether the process that writes this progress is alive (on this host; elsewhere we cannot tell)."""
    if progress.get("status") != "running" or progress.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(progress["pid"]), 0)
    except PermissionError:
        return True
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return True


def describe_unfinished(progress: dict[str, Any]) -> str:
    status = progress.get("status")
    if status == "running":
        if progress.get("host") != socket.gethostname():
            return (
                f"process {progress.get('pid')} on {progress.get('host')} last reported progress "
                f"{reached(progress)}: still training there, or stopped"
            )
        if still_running(progress):
            return f"still training in process {progress['pid']}, {reached(progress)}"
        return f"stopped {reached(progress)} without a word: killed, crashed or a power cut"
    return f"stopped {reached(progress)}: {progress.get('reason', 'no reason recorded')}"
