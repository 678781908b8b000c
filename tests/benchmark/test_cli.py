"""`edge-all benchmark` as a user runs it: real subprocesses, real bundles, real exit codes.

No timing assertions (speed belongs in benchmarks/): only the shape and consistency of the report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_all.exit_codes import ExitCode
from edge_all.runtime.backend import edgetpu_runtime_present
from edge_all.runtime.bundle import LABELS_FILE, MODEL_FILE
from tests.cli_runner import run_edge_all as edge_all

REPO_ROOT = Path(__file__).resolve().parents[2]
STATS = ("runs", "mean_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms")


def assert_ordered(stats: dict, runs: int) -> None:
    assert set(stats) == set(STATS)
    assert stats["runs"] == runs
    assert stats["min_ms"] <= stats["p50_ms"] <= stats["p90_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert stats["min_ms"] <= stats["mean_ms"] <= stats["max_ms"]


def test_json_report(int8_bundle):
    result = edge_all("benchmark", int8_bundle, "--runs", 7, "--warmup", 2, "--threads", 1, "--json")
    assert result.returncode == ExitCode.OK, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == str(int8_bundle)
    assert report["precision"] == "int8"
    assert report["model_bytes"] == (int8_bundle / MODEL_FILE).stat().st_size
    assert report["input_dtype"] == "uint8"
    assert report["input_shape"][0] == 1 and report["input_shape"][3] == 3
    assert report["backend"]["name"] == "ai_edge_litert"
    assert report["backend"]["threads"] == 1
    assert report["backend"]["delegate"] is None
    assert report["warmup"] == 2
    for step in ("invoke", "predict", "overhead"):
        assert_ordered(report[step], 7)
    # predict() contains invoke(): per image, the overhead is what is left, never negative.
    assert report["overhead"]["min_ms"] >= 0
    assert report["predict"]["min_ms"] >= report["invoke"]["min_ms"]
    assert report["throughput_per_s"] > 0
    process = report["process"]
    assert process["images"] == 100
    assert process["tensorflow_imported"] is False
    assert 0 < process["import_s"] < process["import_to_first_prediction_s"]
    assert process["peak_rss_mb"] > 0
    assert report["machine"]["cores"] >= 1
    assert "synthetic" in report["images"]


def test_table(int8_bundle):
    result = edge_all("benchmark", int8_bundle, "--runs", 5, "--warmup", 1)
    assert result.returncode == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("latency (ms)"))
    assert header.split()[2:] == ["p50", "p90", "p99", "mean"]
    for step in ("invoke()", "predict()", "runtime overhead"):
        row = next(line for line in lines if line.startswith(step))
        assert len(row.split()[-4:]) == 4 and all(float(cell) >= 0 for cell in row.split()[-4:])
    text = result.stdout
    assert "backend:  ai_edge_litert" in text and "delegate none (CPU)" in text
    assert "throughput:" in text and "images/s" in text
    assert "start-up:" in text and "import to first prediction" in text
    assert "peak RSS:" in text and "100 images" in text
    assert result.stderr.strip() == ""  # no interpreter chatter


def test_plain_tflite_float_without_startup(float32_bundle, tmp_path):
    model = tmp_path / "plain.tflite"
    shutil.copy(float32_bundle / MODEL_FILE, model)
    result = edge_all(
        "benchmark", model, "--labels", float32_bundle / LABELS_FILE, "--runs", 3, "--no-startup", "--json"
    )
    assert result.returncode == ExitCode.OK, result.stderr
    report = json.loads(result.stdout)
    assert report["precision"] is None
    assert report["input_dtype"] == "float32"
    assert report["process"] is None
    assert report["backend"]["threads"] >= 1  # default: every core


def test_images_folder_with_a_bad_file(int8_bundle, tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(folder / f"s{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    result = edge_all("benchmark", int8_bundle, "--images", folder, "--runs", 4, "--json")
    assert result.returncode == ExitCode.OK, result.stderr
    # Named once, then left out of the timing loop and of the fresh process alike.
    assert result.stderr.count("broken.jpg") == 1
    report = json.loads(result.stdout)
    assert report["images"] == f"3 images from {folder}"
    assert report["predict"]["runs"] == 4
    assert report["process"]["images"] == 100


def test_no_readable_images(int8_bundle, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"")
    result = edge_all("benchmark", int8_bundle, "--images", folder)
    assert result.returncode == ExitCode.ERROR
    assert result.stderr.strip().splitlines()[-1] == "error: none of the benchmark images could be read"


@pytest.mark.skipif(edgetpu_runtime_present(), reason="an Edge TPU runtime is installed here")
def test_edgetpu_without_runtime(int8_bundle):
    result = edge_all("benchmark", int8_bundle, "--edgetpu", "--runs", 2)
    assert result.returncode == ExitCode.ERROR
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "libedgetpu" in lines[0]
    assert result.stdout == ""


def test_damaged_bundle_and_missing_model(int8_bundle, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(int8_bundle, damaged)
    with open(damaged / MODEL_FILE, "ab") as model:
        model.write(b"\0")
    result = edge_all("benchmark", damaged, "--runs", 2)
    assert result.returncode == ExitCode.ERROR
    assert len(result.stderr.strip().splitlines()) == 1 and "sha256" in result.stderr

    missing = tmp_path / "nothing-here"
    result = edge_all("benchmark", missing)
    assert result.returncode == ExitCode.ERROR
    assert result.stderr.strip() == f"error: {missing}: no such model file or bundle directory"


def test_runs_must_be_positive(int8_bundle):
    result = edge_all("benchmark", int8_bundle, "--runs", 0)
    assert result.returncode == ExitCode.USAGE
