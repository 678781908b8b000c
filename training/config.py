"""Everything one training run needs, in one dataclass that is written to the run dir as config.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from edge_all.errors import EdgeAllError
from training.augment import NONE, POLICIES, AugmentPolicy

BACKBONES = ("resnet50", "mobilenetv2", "tiny")
HEADS = ("flatten", "gap")
# The seed project's head for ResNet50; the edge-friendly networks pool instead.
DEFAULT_HEAD = {"resnet50": "flatten", "mobilenetv2": "gap", "tiny": "gap"}
PRECISIONS = ("float32", "bfloat16", "float16")  # what layers compute in (training.precision)
TASKS = ("field", "cells")  # a whole-field classifier, or a cell model (training.cells_data)
# The one table of recipes: what `--task` sets, for every option left at its default.
RECIPES: dict[str, dict[str, object]] = {
    "field": {},
    "cells": {
        "backbone": "mobilenetv2",
        # the 64-px crops (35 um at 0.55 um/px) resized up: 128 measured better than 96
        # (docs/model-card-cells.md, "What was tried")
        "image_size": 128,
        "augment": "cells-v1",
        "class_weight": "balanced",
        "epochs": 10,
        "batch_size": 64,
        "fine_tune_epochs": 6,
        "fine_tune_learning_rate": 1e-4,
    },
}
# Settings a resumed run may change: where the data lives now, how chatty it is. The split is the
# run dir's own split.json once training started.
RESUMABLE_CHANGES = ("data", "split_file", "verbose")


class ConfigError(EdgeAllError):
    """A training configuration that cannot work; the message says which option to change."""


@dataclass
class TrainConfig:
    """One training run. `weights` is "imagenet", "none" (random init, the whole network trains)
    or the path of a Keras weights file for the backbone (the offline route)."""

    data: Path
    out: Path
    backbone: str = "resnet50"
    weights: str = "imagenet"
    head: str | None = None  # None: the backbone's default (DEFAULT_HEAD)
    epochs: int = 20
    fine_tune_epochs: int = 0
    batch_size: int = 32
    seed: int = 0
    include_segmented: bool = False
    augment: str = NONE  # an augmentation policy of training.augment.POLICIES
    class_weight: str = "none"  # "balanced": weigh each class's loss by N / (classes * class count)
    image_size: int = 224
    test_fraction: float = 0.2
    val_fraction: float = 0.1  # of all images, carved from the train+val part
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-5
    fine_tune_layers: int = 30  # how many of the backbone's top layers fine-tuning unfreezes
    patience: int = 5  # EarlyStopping on val_loss
    lr_schedule: str = "constant"  # or "cosine": each phase's rate decays to zero over its epochs
    split_file: Path | None = None  # reuse an existing split.json instead of splitting again
    distribute: bool = False  # data-parallel over every visible device (training.distribute)
    precision: str = "float32"  # bfloat16 / float16: mixed precision (training.precision)
    verbose: int = 1  # Keras progress bars (0: quiet)
    task: str = "field"  # TASKS: what the model reads (see RECIPES)

    def __post_init__(self) -> None:
        self.data = Path(self.data)
        self.out = Path(self.out)
        if self.split_file is not None:
            self.split_file = Path(self.split_file)
        self.backbone = self.backbone.lower()
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r} (choose from {', '.join(BACKBONES)})")
        if self.head is None:
            self.head = DEFAULT_HEAD[self.backbone]
        self.head = self.head.lower()
        if self.head not in HEADS:
            raise ConfigError(f"unknown head {self.head!r} (choose from {', '.join(HEADS)})")
        if self.weights.lower() in ("imagenet", "none"):
            self.weights = self.weights.lower()
        if self.epochs < 1 or self.fine_tune_epochs < 0 or self.batch_size < 1:
            raise ConfigError("epochs and batch size must be at least 1, fine-tune epochs at least 0")
        if self.fine_tune_epochs and self.weights == "none":
            raise ConfigError(
                "--fine-tune-epochs needs pretrained weights (with --weights none all layers train)"
            )
        if self.augment not in POLICIES:
            raise ConfigError(
                f"unknown augmentation policy {self.augment!r} (choose from {', '.join(POLICIES)})"
            )
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(
                f"unknown learning-rate schedule {self.lr_schedule!r} (choose constant or cosine)"
            )
        if self.patience < 1:
            raise ConfigError("--patience must be at least 1 epoch")
        if self.class_weight not in ("none", "balanced"):
            raise ConfigError(f"unknown class weight {self.class_weight!r} (choose none or balanced)")
        if self.image_size < 32:
            raise ConfigError(f"image size {self.image_size} is too small (at least 32)")
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r} (choose from {', '.join(TASKS)})")
        if self.task == "cells" and self.split_file is not None:
            raise ConfigError("--split reuses a whole-field split; a cell run cuts and splits its own crops")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r} (choose from {', '.join(PRECISIONS)})")

    @classmethod
    def with_recipe(cls, task: str, **values: object) -> TrainConfig:
        """A config for `task`: every setting left at its default takes the recipe's value."""
        if task not in RECIPES:
            raise ConfigError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
        defaults = {f.name: f.default for f in fields(cls)}
        for key, value in RECIPES[task].items():
            if values.get(key, defaults[key]) == defaults[key]:
                values[key] = value
        return cls(task=task, **values)  # type: ignore[arg-type]

    @property
    def augment_policy(self) -> AugmentPolicy:
        return POLICIES[self.augment]

    @property
    def frozen_base(self) -> bool:
        """Pretrained weights keep the backbone frozen; random init trains the whole network."""
        return self.weights != "none"

    def to_dict(self) -> dict:
        data = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}

    def changed_from(self, started: dict) -> list[str]:
        """The settings that differ from those a run was started with, one phrase each."""
        now = self.to_dict()
        return [
            f"{key} {now[key]!r} (the run started with {started.get(key)!r})"
            for key in now
            if key not in RESUMABLE_CHANGES and now[key] != started.get(key, now[key])
        ]

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("augment"), bool):  # runs of edge-all 0.1: flips and 90-degree turns
            values["augment"] = "d4" if values["augment"] else NONE
        return cls(**values)

    @classmethod
    def read(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8"))["config"])
