"""The shared `trained_run` fixture: a tiny model on the synthetic smears, with its whole run dir."""

from __future__ import annotations

import json

RUN_FILES = (
    "model.keras",
    "split.json",
    "config.json",
    "history.json",
    "metrics.json",
    "report.txt",
    "confusion_matrix.png",
    "training_curves.png",
)


def test_run_dir_has_every_artifact(trained_run):
    for name in RUN_FILES:
        path = trained_run / name
        assert path.is_file() and path.stat().st_size > 0, name


def test_tiny_model_learns_the_synthetic_classes_well_above_chance(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    test = metrics["test"]
    assert test["count"] >= 20
    assert test["accuracy"] >= 0.8, test  # chance is 0.25
    for name, row in test["per_class"].items():
        assert row["recall"] >= 0.5, (name, row)
