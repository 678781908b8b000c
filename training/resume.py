"""Resumable training: after every epoch the run dir holds what continuing exactly needs.

A run has one or two phases (training.train.plan). After every epoch the resume dir gets one new
arrays file (the fitted model's weights, its optimizer's state, its random-number state, and
EarlyStopping's best weights), and a new best checkpoint when val_loss improved; then state.json is
replaced whole to name them, with the history so far, the early-stopping counters and the best
val_loss; only then are the files it no longer names deleted. A kill at any moment (SIGKILL,
preemption, power cut) leaves the last committed state intact, and `edge-all train --resume`
continues from the last completed epoch: the same weights, optimizer and random state, the same
data order (ImageBatches draws it from the epoch number), the same best checkpoint and
early-stopping patience, and a history without gap or repeat. progress.json says what happened.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training.config import TrainConfig
from training.loading import ImageBatches
from training.precision import float32_copy
from training.run_dir import (
    HISTORY_FILE,
    KERAS_MODEL_FILE,
    PROGRESS_FILE,
    RESUME_DIR,
    RunError,
    describe_unfinished,
    read_progress,
    write_json,
)

STATE_FILE = "state.json"


@dataclass(frozen=True)
class Phase:
    index: int
    name: str  # "head" (frozen backbone), "full" (the whole network), "fine-tune"
    epochs: int
    learning_rate: float
    on_features: bool  # the head fits on the frozen backbone's cached outputs


@dataclass
class State:
    """What state.json holds: where the run is, and everything a restart needs besides the arrays."""

    phase: int = 0  # the phase in progress, or the last one finished when phase_done
    epoch: int = 0  # epochs of that phase completed
    phase_done: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)  # the history: one per epoch, all phases
    best: float = math.inf  # the lowest val_loss so far, all phases
    best_epoch: int = 0  # its epoch, counted from 1 over all phases
    best_model: str | None = None  # the float32 whole network of that epoch, in the resume dir
    arrays: str | None = None  # the weights (and optimizer, random and early-stopping state)
    early: dict[str, Any] = field(default_factory=dict)  # EarlyStopping's counters in this phase
    fit_seconds: float = 0.0  # over every process that worked on the run

    @property
    def stopped_early(self) -> bool:
        return bool(self.early.get("stopped_epoch"))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping on val_loss (restoring the best weights) whose counters survive a restart."""

    def __init__(self, patience: int, counters: dict[str, Any], best_weights: list[np.ndarray] | None):
        super().__init__("val_loss", patience=patience, restore_best_weights=True)
        self._counters, self._best_weights = counters, best_weights

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._counters:
            self.wait = self._counters["wait"]
            self.best = self._counters["best"]
            self.best_epoch = self._counters["best_epoch"]
            self.stopped_epoch = self._counters["stopped_epoch"]
            self.best_weights = self._best_weights

    def counters(self) -> dict[str, Any]:
        best = None if self.best is None else float(self.best)
        return {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch),
                "stopped_epoch": int(self.stopped_epoch)}  # fmt: skip


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _random_state(model: keras.Model) -> list:
    """The model's variables that are not weights: the random-number state of its dropout layers."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _synced(path: Path) -> None:
    """Flush a file to disk before it is named in state.json (a power cut must not lose it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpoints:
    """The resume dir and progress.json of one run."""

    def __init__(self, run_dir: Path, config: TrainConfig, full_model: keras.Model, resume: bool):
        """`full_model`: the whole network, what a best checkpoint saves. `resume`: continue what
        the run dir holds (if it holds nothing yet, start)."""
        self.run_dir, self.dir = run_dir, run_dir / RESUME_DIR
        self._full_model = full_model
        self._float32: keras.Model | None = None
        self._fit_started: float | None = None  # when this process began fitting
        previous = read_progress(run_dir) if resume else None
        if previous is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.state = State()
            self.progress: dict[str, Any] = {"config": config.to_dict(), "events": []}
            self._event("started")
        else:
            self.state = self._read_state()
            self.progress = previous
            self._event("resumed", after=describe_unfinished(previous))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._fit_before = self.state.fit_seconds
        self._write_progress("running")

    # -- what train() asks -------------------------------------------------------------------------

    @property
    def earlier_fit_seconds(self) -> float:
        """The fitting time of the processes that worked on this run before this one."""
        return self._fit_before

    def phase_needed(self, phase: Phase) -> bool:
        s = self.state
        return not (s.phase > phase.index or (s.phase == phase.index and s.phase_done))

    def restore_finished_phase(self, model: keras.Model) -> None:
        """Right after the model is built: the weights at the end of the last finished phase, if any."""
        if self.state.phase_done:
            arrays = self._arrays()
            _assign(model.weights, arrays, "model")
            _assign(_random_state(model), arrays, "random")

    def begin_phase(
        self, phase: Phase, fitted: keras.Model, early_patience: int, train_data: ImageBatches
    ) -> tuple[int, int, list[keras.callbacks.Callback]]:
        """Restore a phase that was in progress; returns (initial epoch, last epoch, callbacks)."""
        if self._fit_started is None:
            self._fit_started = time.perf_counter()
        s = self.state
        counters, best_weights, initial = {}, None, 0
        if s.phase == phase.index and not s.phase_done and s.epoch > 0:
            arrays = self._arrays()
            _assign(fitted.weights, arrays, "fitted")
            fitted.optimizer.build(fitted.trainable_variables)  # its variables exist before fit, to restore
            _assign(fitted.optimizer.variables, arrays, "optimizer")
            _assign(_random_state(fitted), arrays, "random")
            counters = s.early
            best_weights = [arrays[k] for k in sorted(arrays) if k.startswith("early/")] or None
            initial = s.epoch
            train_data.epoch = initial  # the data order and augmentation go on where they were
        early = ResumableEarlyStopping(early_patience, counters, best_weights)
        # a phase that early stopping ended (or that ran all its epochs) runs no more epochs: fit
        # then only restores the best weights, as it did when the phase ended
        last = initial if s.stopped_early and initial else phase.epochs
        commit = _CommitEachEpoch(self, phase, early, train_data)
        return initial, last, [early, commit]

    def end_phase(self, phase: Phase, model: keras.Model) -> None:
        """The phase is over (its best weights restored): keep the whole network's weights."""
        arrays = _arrays_of(model.weights, "model") | _arrays_of(_random_state(model), "random")
        name = self._save_arrays(arrays, f"phase-{phase.index}")
        self._commit(replace(self.state, phase=phase.index, phase_done=True, arrays=name, early={}))

    @property
    def best_model_path(self) -> Path:
        if self.state.best_model is None:
            raise RunError(f"{self.dir}: no checkpoint was saved (no epoch reported a val_loss)")
        return self.dir / self.state.best_model

    def finish(self) -> None:
        """The run's files are written: the best checkpoint becomes model.keras, the last file written
        (a copy, so that a kill before progress.json says "finished" still leaves a resumable run)."""
        partial = self.run_dir / f"{KERAS_MODEL_FILE}.partial.keras"
        shutil.copyfile(self.best_model_path, partial)
        _synced(partial)
        os.replace(partial, self.run_dir / KERAS_MODEL_FILE)
        self._event("finished")
        self._write_progress("finished")
        shutil.rmtree(self.dir, ignore_errors=True)

    def stopped(self, reason: str) -> None:
        """The process is stopping before the run finished (an exception, Ctrl-C, SIGTERM)."""
        self._event("stopped", reason=reason)
        self._write_progress("stopped", reason=reason)

    # -- after every epoch -------------------------------------------------------------------------

    def commit_epoch(
        self, phase: Phase, epoch: int, logs: dict, model: keras.Model, early, data: ImageBatches
    ) -> None:
        s = self.state
        number = len(s.rows) + 1
        row = {"epoch": number, "phase": phase.name, **{k: float(v) for k, v in logs.items()}}
        row["data_fingerprint"] = data.fingerprint
        new = replace(s, phase=phase.index, epoch=epoch + 1, phase_done=False, rows=[*s.rows, row])
        loss = logs.get("val_loss")
        if loss is not None and loss < s.best:
            new.best, new.best_epoch, new.best_model = float(loss), number, self._save_best(number)
        arrays = (
            _arrays_of(model.weights, "fitted")
            | _arrays_of(model.optimizer.variables, "optimizer")
            | _arrays_of(_random_state(model), "random")
        )
        if early.best_weights is not None:
            arrays |= {f"early/{i:05d}": np.asarray(w) for i, w in enumerate(early.best_weights)}
        new.arrays = self._save_arrays(arrays, f"epoch-{number}")
        new.early = early.counters()
        new.fit_seconds = self._fit_before + time.perf_counter() - (self._fit_started or 0.0)
        self._commit(new)
        write_json(self.run_dir / HISTORY_FILE, history_of(new.rows))  # to watch, and what a kill leaves
        self.progress.update(phase=phase.name, phase_epoch=epoch + 1, phase_epochs=phase.epochs)
        self._write_progress("running")

    def _save_best(self, number: int) -> str:
        """The whole network, in float32 whatever the training precision, under a new name."""
        full = self._full_model
        if self._float32 is None:
            self._float32 = float32_copy(full)
        elif self._float32 is not full:
            self._float32.set_weights(full.get_weights())
        name = f"best-{number}.keras"
        partial = self.dir / f"best-{number}.partial.keras"
        self._float32.save(partial)
        _synced(partial)
        os.replace(partial, self.dir / name)
        return name

    # -- files -------------------------------------------------------------------------------------

    def _save_arrays(self, arrays: dict[str, np.ndarray], stem: str) -> str:
        name, partial = f"{stem}.npz", self.dir / f"{stem}.partial"
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.dir / name)
        return name

    def _arrays(self) -> dict[str, np.ndarray]:
        path = self.dir / str(self.state.arrays)
        try:
            with np.load(path) as arrays:
                return {k: arrays[k] for k in arrays.files}
        except (OSError, ValueError) as exc:
            raise RunError(f"{path}: unreadable resume state ({exc!r}); start over with --force") from None

    def _commit(self, new: State) -> None:
        """state.json names the new files (one atomic replace); then the old ones go."""
        write_json(self.dir / STATE_FILE, asdict(new))
        _synced(self.dir / STATE_FILE)
        self.state = new
        keep = {STATE_FILE, new.arrays, new.best_model}
        for path in self.dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def _read_state(self) -> State:
        path = self.dir / STATE_FILE
        if not path.is_file():  # stopped before its first epoch ended: start the fitting over
            return State()
        try:
            return State(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise RunError(f"{path}: unreadable resume state ({exc!r}); start over with --force") from None

    def _event(self, event: str, **detail: str) -> None:
        self.progress["events"].append({"event": event, "at": _now(), **detail})

    def _write_progress(self, status: str, reason: str | None = None) -> None:
        """progress.json: the status first, then how far the run got, its story, and its settings."""
        p = self.progress
        p.update(status=status, reason=reason, updated=_now(), host=socket.gethostname(), pid=os.getpid())
        p["epochs_done"] = len(self.state.rows)
        order = ("status", "reason", "phase", "phase_epoch", "phase_epochs", "epochs_done", "updated",
                 "host", "pid", "events", "config")  # fmt: skip
        self.progress = {key: p[key] for key in order if p.get(key) is not None}
        write_json(self.run_dir / PROGRESS_FILE, self.progress)


class _CommitEachEpoch(keras.callbacks.Callback):
    """The last callback of every fit: commits the epoch (after EarlyStopping has counted it)."""

    def __init__(self, checkpoints: Checkpoints, phase: Phase, early, data: ImageBatches):
        super().__init__()
        self.checkpoints, self.phase, self.early, self.data = checkpoints, phase, early, data

    def on_epoch_end(self, epoch, logs=None):
        self.checkpoints.commit_epoch(self.phase, epoch, logs or {}, self.model, self.early, self.data)


def history_of(rows: list[dict[str, Any]]) -> dict[str, list]:
    """history.json: one list per key (epoch, phase, loss, accuracy, val_loss, ...), one entry per epoch."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return {key: [row.get(key) for row in rows] for key in keys}


def _arrays_of(variables: list, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}/{i:05d}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(variables)}


def _assign(variables: list, arrays: dict[str, np.ndarray], prefix: str) -> None:
    saved = [arrays[k] for k in sorted(arrays) if k.startswith(prefix + "/")]
    shapes = [tuple(v.shape) for v in variables]
    if [a.shape for a in saved] != shapes:
        raise RunError(
            f"the resume state's {prefix} variables ({len(saved)}) do not fit this model's ({len(shapes)}): "
            "was the run started with other options? start over with --force"
        )
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value)
