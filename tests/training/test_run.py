"""The shared `trained_run` fixture: a tiny model on the synthetic smears, and its whole run dir."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

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


def _json(run, name):
    return json.loads((run / name).read_text())


def test_run_dir_has_every_artifact(trained_run):
    for name in RUN_FILES:
        path = trained_run / name
        assert path.is_file() and path.stat().st_size > 0, name
    for png in ("confusion_matrix.png", "training_curves.png"):
        assert (trained_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tiny_model_learns_the_synthetic_classes_well_above_chance(trained_run):
    test = _json(trained_run, "metrics.json")["test"]
    assert test["count"] >= 20
    assert test["accuracy"] >= 0.8, test  # chance is 0.25
    for name, row in test["per_class"].items():
        assert row["recall"] >= 0.5, (name, row)


def test_metrics_agree_with_the_split_and_the_confusion_matrices(trained_run):
    metrics = _json(trained_run, "metrics.json")
    split = _json(trained_run, "split.json")
    for part in ("train", "val", "test"):
        m = metrics[part]
        matrix = np.array(m["confusion_matrix"])
        in_split = [r for r in split["images"] if r["part"] == part]
        assert matrix.sum() == m["count"] == len(in_split), part
        for i, name in enumerate(m["classes"]):
            assert (
                matrix[i].sum()
                == m["per_class"][name]["support"]
                == sum(r["label"] == name for r in in_split)
            )
        assert m["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())


def test_report_txt_shows_the_same_numbers_and_says_what_it_left_out(trained_run, demo_data):
    report = (trained_run / "report.txt").read_text()
    metrics = _json(trained_run, "metrics.json")
    assert "image-level" in report and "overstate" in report
    for part, title in (("train", "train"), ("val", "validation"), ("test", "test (held out)")):
        block = report.split(f"== {title}: {metrics[part]['count']} images ==", 1)[1]
        accuracy = re.search(r"^\s*accuracy\s+([\d.]+)\s+(\d+)$", block, re.M)
        assert float(accuracy.group(1)) == pytest.approx(metrics[part]["accuracy"], abs=5e-4)
        assert int(accuracy.group(2)) == metrics[part]["count"]
        confusion = block.split("rows true, columns predicted):\n", 1)[1].splitlines()[1:5]
        assert [[int(v) for v in line.split()[1:]] for line in confusion] == metrics[part]["confusion_matrix"]
    assert demo_data.quirk_files["truncated"] in report.split("skipped files (1):", 1)[1]
    assert demo_data.quirk_files["duplicate"] in report.split("dropped duplicates", 1)[1]
    assert metrics["skipped"][0]["file"] == demo_data.quirk_files["truncated"]
    assert metrics["duplicates_dropped"] == [demo_data.quirk_files["duplicate"]]


def test_config_records_the_run_machine_and_time(trained_run):
    config = _json(trained_run, "config.json")
    assert config["config"]["backbone"] == "tiny" and config["config"]["image_size"] == 64
    assert config["classes"] == ["Benign", "Early", "Pre", "Pro"]
    assert config["preprocessing"] == {"color_order": "RGB", "resize": "bilinear", "crop": "center"}
    assert config["machine"]["cpu_count"] >= 1 and config["machine"]["platform"]
    assert config["wall_seconds"] >= config["fit_seconds"] > 0
    assert _json(trained_run, "metrics.json")["machine"] == config["machine"]


def test_saved_model_is_the_best_val_loss_checkpoint_on_raw_pixels(trained_run):
    import keras

    from training.dataset import read_split
    from training.loading import load_images, one_hot
    from training.models import load_model

    history = _json(trained_run, "history.json")
    config = _json(trained_run, "config.json")
    best = int(np.argmin(history["val_loss"]))
    assert config["best_epoch"] == best + 1
    assert config["best_val_loss"] == pytest.approx(min(history["val_loss"]))

    model = load_model(trained_run / "model.keras")
    assert tuple(model.input_shape) == (None, 64, 64, 3)
    split = read_split(trained_run / "split.json")
    val = load_images(split, split.part("val"), 64)
    assert val.pixels.dtype == np.uint8  # raw 0-255 pixels go straight in
    probabilities = model.predict(val.pixels.astype(np.float32), verbose=0)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    loss = keras.ops.convert_to_numpy(
        keras.losses.categorical_crossentropy(one_hot(val.labels, 4), probabilities)
    ).mean()
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-3, abs=1e-4)
