"""Options that change what convert makes: --force, --edgetpu, --data, --io-dtype, --float16."""

from __future__ import annotations

import json
import shutil

import pytest

from convert.config import ConvertConfig
from convert.convert import convert_run
from convert.errors import ConvertError
from edge_all.runtime.bundle import EDGETPU_MODEL_FILE, MODEL_FILE, read_manifest
from edge_all.runtime.images import Preprocessing


def _no_leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_existing_target_is_refused_then_replaced_with_force(trained_run, float32_bundle, tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(float32_bundle, target)
    before = read_manifest(target)
    with pytest.raises(ConvertError, match="already exists .*--force"):
        convert_run(ConvertConfig(run_dir=trained_run, out=target, precision="float32"))
    assert read_manifest(target) == before  # untouched
    result = convert_run(ConvertConfig(run_dir=trained_run, out=target, precision="float16", force=True))
    assert result.published and result.bundle_dir == target
    manifest = read_manifest(target)
    assert manifest.precision == "float16" and manifest.input.dtype == "float32"
    assert manifest.model_bytes < before.model_bytes * 0.6  # float16 weights: about half
    assert _no_leftovers(tmp_path) == []


def test_a_failed_gate_with_force_keeps_the_old_bundle(trained_run, float32_bundle, tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(float32_bundle, target)
    before = read_manifest(target)
    result = convert_run(
        ConvertConfig(run_dir=trained_run, out=target, precision="float16", force=True, max_drop=-100)
    )
    assert not result.published
    assert read_manifest(target) == before
    assert result.report_path == tmp_path / "bundle.accuracy_check.json" and result.report_path.is_file()
    assert _no_leftovers(tmp_path) == []
    # A later conversion that passes replaces the bundle and removes the stale report beside it.
    passed = convert_run(ConvertConfig(run_dir=trained_run, out=target, precision="float16", force=True))
    assert passed.published and read_manifest(target).precision == "float16"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_edgetpu_without_the_compiler_keeps_the_cpu_bundle(trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # a PATH on which no edgetpu_compiler exists
    result = convert_run(
        ConvertConfig(run_dir=trained_run, out=tmp_path / "b", edgetpu=True, calibration_samples=16)
    )
    assert result.published
    assert result.edgetpu is not None and not result.edgetpu.compiled
    assert any("edgetpu_compiler is not installed" in w and "apt" in w for w in result.warnings)
    assert (result.bundle_dir / MODEL_FILE).is_file() and not (
        result.bundle_dir / EDGETPU_MODEL_FILE
    ).exists()
    manifest = read_manifest(result.bundle_dir)
    assert manifest.edgetpu_model_sha256 is None
    assert manifest.accuracy_check["conversion"]["calibration"]["samples"] == 16


def test_check_on_another_labelled_folder_with_int8_io(trained_run, demo_data, tmp_path):
    """--data: every distinct readable Original image of the folder; --io-dtype int8: signed I/O."""
    result = convert_run(
        ConvertConfig(
            run_dir=trained_run,
            out=tmp_path / "b",
            io_dtype="int8",
            calibration_samples=16,
            data=demo_data.root,
            max_drop=100,
            max_robustness_drop=100,  # 16 calibration images: this test is about the options, not the gate
        )
    )
    assert result.published
    report = result.report
    assert report["eval_set"] == f"every image of {demo_data.root}"
    # This folder is the run's own dataset: the check says its training images are in it.
    (note,) = report["notes"]
    assert "trained on" in note and "inflated" in note and note in result.warnings
    originals = [p for p in (demo_data.root / "Original").rglob("*") if p.is_file()]
    # One truncated file is unreadable and one byte-identical duplicate counts once.
    assert report["images"] == len(originals) - 2
    assert len(report["skipped"]) == 1 and "WBC-Malignant-Pro-901.jpg" in report["skipped"][0]
    assert sum(report["support"].values()) == report["images"]
    manifest = read_manifest(result.bundle_dir)
    assert manifest.input.dtype == "int8" and manifest.scores.spec.dtype == "int8"
    assert manifest.input.quantization.zero_point == -128
    assert manifest.input.quantization.scale == pytest.approx(1.0, abs=1e-5)


def test_the_bundle_records_the_preprocessing_training_used(run_copy, tmp_path):
    config_path = run_copy / "config.json"
    config = json.loads(config_path.read_text())
    config["preprocessing"] = {"color_order": "RGB", "resize": "bicubic", "crop": "none"}
    config_path.write_text(json.dumps(config))
    result = convert_run(ConvertConfig(run_dir=run_copy, out=tmp_path / "b", precision="float32"))
    assert result.published
    assert read_manifest(result.bundle_dir).preprocessing == Preprocessing(resize="bicubic", crop="none")
