"""`edge-all train` and `edge-all evaluate` as a user runs them: real subprocesses, real exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from edge_all.exit_codes import ExitCode
from tests.cli_runner import run_edge_all as run_cli
from tests.cli_runner import run_edge_all_watched


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == ExitCode.ERROR, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert proc.stderr.rstrip().endswith(errors[0])
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_missing_data_folder_fails_before_keras_loads(tmp_path):
    proc, imported = run_edge_all_watched(
        "train", "--data", tmp_path / "nowhere", "--out", tmp_path / "run", "--backbone", "tiny"
    )
    assert_one_line_error(proc, "nowhere", "not found")
    assert imported == "[]"  # so it answers in well under a second, whatever Keras costs to load
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_without_the_training_extra_the_command_says_how_to_install_it(tmp_path, command):
    args = ["--data", tmp_path, "--out", tmp_path / "run"] if command == "train" else [tmp_path]
    proc, imported = run_edge_all_watched(command, *args, blocked=("keras", "tensorflow", "matplotlib"))
    assert proc.returncode == ExitCode.ERROR
    assert (
        proc.stderr
        == f"error: `edge-all {command}` needs the training extra: pip install 'edge-all[train]'\n"
    )
    assert imported == "[]"


def test_empty_class_folder(tmp_path, demo_data):
    root = tmp_path / "data"
    for label in ("Benign", "Early", "Pre", "Pro"):
        (root / label).mkdir(parents=True)
        if label != "Early":
            for src in sorted((demo_data.root / "Original" / label).glob("*.jpg"))[:3]:
                (root / label / src.name).write_bytes(src.read_bytes())
    proc = run_cli(
        "train", "--data", root, "--out", tmp_path / "run", "--backbone", "tiny", "--weights", "none"
    )
    assert_one_line_error(proc, "Early", "no readable images")


def test_folder_without_class_folders(tmp_path):
    (tmp_path / "data" / "misc").mkdir(parents=True)
    proc = run_cli("train", "--data", tmp_path / "data", "--out", tmp_path / "run")
    assert_one_line_error(proc, "no folder for class(es) Benign, Early, Pre, Pro")


def test_offline_imagenet_weights(tmp_path, demo_data):
    """No internet here: Keras's real download fails and the user is told the two offline routes."""
    proc = run_cli(
        "train", "--data", demo_data.root, "--out", tmp_path / "run", "--backbone", "mobilenetv2",
        "--image-size", "96", env={"KERAS_HOME": str(tmp_path / "keras-home")},
    )  # fmt: skip
    if proc.returncode == 0:
        pytest.skip("online: the ImageNet weights downloaded")
    assert_one_line_error(proc, "--weights FILE", "--weights none")
    assert not (tmp_path / "run" / "model.keras").exists()


def test_evaluate_needs_a_run_dir(tmp_path):
    assert_one_line_error(run_cli("evaluate", tmp_path), "no model.keras")


def test_train_refuses_to_overwrite_a_run(trained_run, demo_data):
    proc = run_cli("train", "--data", demo_data.root, "--out", trained_run, "--backbone", "tiny")
    assert_one_line_error(proc, "already holds a trained model", "--force")


def test_evaluate_reproduces_the_recorded_test_metrics(trained_run):
    proc = run_cli("evaluate", trained_run, "--json")
    assert proc.returncode == ExitCode.OK, proc.stderr
    result = json.loads(proc.stdout)
    recorded = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert result["metrics"]["test"]["confusion_matrix"] == recorded["confusion_matrix"]
    assert result["metrics"]["test"]["accuracy"] == pytest.approx(recorded["accuracy"])
    assert "image-level" in result["note"]


def test_evaluate_on_every_image_of_another_folder(trained_run, demo_data):
    proc = run_cli("evaluate", trained_run, "--data", demo_data.root)
    assert proc.returncode == ExitCode.OK, proc.stderr
    # 4 x 30 images + the grayscale, RGBA and odd-sized quirks; truncated: skipped; duplicate: counted once
    assert "== all images: 123 images ==" in proc.stdout
    assert "precision" in proc.stdout and "confusion matrix" in proc.stdout
    assert Path(demo_data.quirk_files["truncated"]).name in proc.stderr
    # the same folder the run trained on: the overlap is named, not silently scored as if independent
    assert "byte-identical to images the model trained or was validated on" in proc.stderr
