"""`edge-all convert` as users run it: a real subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest

from edge_all.exit_codes import ExitCode
from edge_all.runtime.bundle import read_manifest
from tests.cli_runner import run_edge_all_watched


def test_gate_failure_writes_the_report_and_no_bundle(trained_run, tmp_path, edge_all_cli, error_lines):
    target = tmp_path / "bundle"
    done = edge_all_cli(
        "convert", str(trained_run), "--int8", "--out", str(target),
        "--max-drop", "-100", "--calibration-samples", "8", "--json",
    )  # fmt: skip
    assert done.returncode == ExitCode.ACCURACY_GATE_FAILED, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["published"] is False and outcome["bundle_dir"] == str(target)
    report = outcome["accuracy_check"]
    assert report["passed"] is False and report["max_drop_pp"] == -100
    assert outcome["report_path"] == str(tmp_path / "bundle.accuracy_check.json")
    assert not target.exists()
    saved = tmp_path / "bundle.accuracy_check.json"
    assert json.loads(saved.read_text()) == report
    (line,) = error_lines(done.stderr)
    assert "accuracy gate failed" in line and str(saved) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.accuracy_check.json"]  # no staging left


def test_existing_target_is_refused_in_one_line(
    trained_run, float32_bundle, tmp_path, edge_all_cli, error_lines
):
    target = tmp_path / "bundle"
    shutil.copytree(float32_bundle, target)
    before = read_manifest(target)
    done = edge_all_cli("convert", str(trained_run), "--float32", "--out", str(target))
    assert done.returncode == ExitCode.ERROR
    assert error_lines(done.stderr) == [f"error: {target}: already exists (pass --force to replace it)"]
    assert read_manifest(target) == before


@pytest.mark.parametrize(
    ("files", "problem"),
    [((), "run dir not found"), (("model.keras",), "no split.json (the split training used is needed)")],
)
def test_a_missing_or_incomplete_run_dir_fails_before_tensorflow_loads(tmp_path, files, problem):
    run = tmp_path / "run"
    for name in files:
        run.mkdir(exist_ok=True)
        (run / name).write_bytes(b"stand-in")
    done, imported = run_edge_all_watched("convert", run)
    assert done.returncode == ExitCode.ERROR
    assert done.stderr == f"error: {run}: {problem}\n"
    assert imported == "[]"  # so it answers in well under a second, whatever TensorFlow costs to load


def test_without_the_training_extra_convert_says_how_to_install_it(tmp_path):
    done, imported = run_edge_all_watched("convert", tmp_path, blocked=("keras", "tensorflow"))
    assert done.returncode == ExitCode.ERROR
    assert (
        done.stderr == "error: `edge-all convert` needs the training extra: pip install 'edge-all[train]'\n"
    )
    assert imported == "[]"


def test_run_dir_without_a_model(trained_run, tmp_path, edge_all_cli, error_lines):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "model.keras").unlink()
    done = edge_all_cli("convert", str(run))
    assert done.returncode == ExitCode.ERROR
    (line,) = error_lines(done.stderr)
    assert str(run) in line and "no model.keras" in line
    assert not (run / "bundle-int8").exists()


def test_one_precision_at_a_time(trained_run, edge_all_cli, error_lines):
    done = edge_all_cli("convert", str(trained_run), "--int8", "--float16")
    assert done.returncode == ExitCode.USAGE
    assert error_lines(done.stderr) == ["error: choose one precision, not --int8 and --float16"]


def test_edgetpu_needs_int8(trained_run, edge_all_cli, error_lines):
    done = edge_all_cli("convert", str(trained_run), "--float32", "--edgetpu")
    assert done.returncode == ExitCode.USAGE
    (line,) = error_lines(done.stderr)
    assert "--edgetpu needs an int8 model" in line
    assert not (trained_run / "bundle-float32").exists()


@pytest.mark.slow
def test_a_model_trained_on_jax_converts(demo_data, tmp_path, edge_all_cli):
    """model.keras is backend-neutral: convert loads it on TensorFlow whatever KERAS_BACKEND says."""
    run = tmp_path / "jax-run"
    jax = {"KERAS_BACKEND": "jax"}
    trained = edge_all_cli(
        "train", "--data", str(demo_data.root), "--out", str(run), "--backbone", "tiny",
        "--weights", "none", "--epochs", "2", "--image-size", "32", env=jax,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert json.loads((run / "config.json").read_text())["machine"]["keras_backend"] == "jax"
    done = edge_all_cli("convert", str(run), "--calibration-samples", "8", "--max-drop", "100", env=jax)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = read_manifest(run / "bundle-int8")
    assert manifest.precision == "int8" and manifest.input.shape == (1, 32, 32, 3)
