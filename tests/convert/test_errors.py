"""What convert refuses, in one line each, leaving nothing half-written behind."""

from __future__ import annotations

import json

import pytest

from convert.config import ConvertConfig
from convert.convert import convert_run
from convert.errors import ConvertError


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
    assert not (run_copy / "bundle-float32").exists() and _no_leftovers(run_copy) == []


def test_model_whose_outputs_are_not_the_classes(run_copy):
    import keras

    inputs = keras.Input((64, 64, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)).save(run_copy / "model.keras")
    with pytest.raises(ConvertError, match=r"does not give one score for each of the 4 classes"):
        convert_run(ConvertConfig(run_dir=run_copy, precision="float32"))


def test_force_never_replaces_something_that_is_not_a_bundle(trained_run, tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    with pytest.raises(ConvertError, match="not a bundle"):
        convert_run(ConvertConfig(run_dir=trained_run, out=target, force=True))
    assert (target / "mine.txt").read_text() == "keep me"


def test_bad_options():
    with pytest.raises(ConvertError, match="--edgetpu needs an int8 model"):
        ConvertConfig(run_dir="run", precision="float32", edgetpu=True)
    with pytest.raises(ConvertError, match="unknown I/O type"):
        ConvertConfig(run_dir="run", io_dtype="int16")


def test_a_split_without_test_images(run_copy):
    split = json.loads((run_copy / "split.json").read_text())
    for record in split["images"]:
        record["part"] = "train" if record["part"] == "test" else record["part"]
    (run_copy / "split.json").write_text(json.dumps(split))
    with pytest.raises(ConvertError, match="no images to check the converted model on"):
        convert_run(ConvertConfig(run_dir=run_copy, precision="float32"))
