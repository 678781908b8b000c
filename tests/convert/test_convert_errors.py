"""What convert refuses, in one line each, leaving nothing half-written behind."""

from __future__ import annotations

import json
import shutil

import pytest

from convert.convert import ConvertConfig, convert_run
from convert.errors import ConvertError
from edge_all.bundle import EDGETPU_MODEL_FILE, MODEL_FILE, read_manifest


def _no_leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_missing_model(run_copy):
    (run_copy / "model.keras").unlink()
    with pytest.raises(ConvertError, match=r"no model\.keras"):
        convert_run(ConvertConfig(run_dir=run_copy, precision="float32"))
    assert not (run_copy / "bundle-float32").exists()


def test_missing_split(run_copy):
    (run_copy / "split.json").unlink()
    with pytest.raises(ConvertError, match=r"no split\.json"):
        convert_run(ConvertConfig(run_dir=run_copy, precision="float32"))


def test_split_whose_images_are_gone(run_copy, tmp_path):
    split = json.loads((run_copy / "split.json").read_text())
    split["root"] = str(tmp_path / "moved-away")
    (run_copy / "split.json").write_text(json.dumps(split))
    with pytest.raises(ConvertError, match=r"image\(s\) of the split are missing"):
        convert_run(ConvertConfig(run_dir=run_copy))
    assert not (run_copy / "bundle-int8").exists()


@pytest.mark.parametrize("shape", [(64, 64, 1), (None, None, 3)])
def test_model_with_unexpected_input(run_copy, shape):
    import keras

    inputs = keras.Input(shape)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x)).save(run_copy / "model.keras")
    with pytest.raises(ConvertError, match=r"unexpected model input .* \(expected \[None, H, W, 3\]"):
        convert_run(ConvertConfig(run_dir=run_copy, precision="float32"))


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


def test_force_never_replaces_something_that_is_not_a_bundle(trained_run, tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    with pytest.raises(ConvertError, match="not a bundle"):
        convert_run(ConvertConfig(run_dir=trained_run, out=target, force=True))
    assert (target / "mine.txt").read_text() == "keep me"


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


def test_bad_options():
    with pytest.raises(ConvertError, match="--edgetpu needs an int8 model"):
        ConvertConfig(run_dir="run", precision="float32", edgetpu=True)
    with pytest.raises(ConvertError, match="unknown I/O type"):
        ConvertConfig(run_dir="run", io_dtype="int16")
