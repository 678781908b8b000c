"""--precision: layers compute in 16 bits while training; the run leaves a float32 model that converts."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from training.config import ConfigError, TrainConfig


def layers_of(model):
    return list(model._flatten_layers(include_self=False))


def test_a_model_built_under_bfloat16_computes_in_it_and_its_copy_is_float32(tmp_path):
    from training.models import build_classifier
    from training.precision import dtype_policy, float32_copy

    config = TrainConfig(data=tmp_path, out=tmp_path, backbone="tiny", weights="none", image_size=32)
    with dtype_policy("bfloat16"):
        mixed = build_classifier(config, num_classes=4).model
    assert keras.config.dtype_policy().name == "float32"  # the global policy came back
    assert mixed.get_layer("tiny").get_layer("block1_conv").compute_dtype == "bfloat16"
    assert mixed.get_layer("head").get_layer("predictions").compute_dtype == "float32"  # softmax

    copy = float32_copy(mixed)
    assert {layer.dtype_policy.name for layer in layers_of(copy)} == {"float32"}
    assert all(w.dtype == np.float32 for w in copy.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(mixed.get_weights(), copy.get_weights(), strict=True))
    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
    exact, rounded = copy.predict(pixels, verbose=0), mixed.predict(pixels, verbose=0)
    assert np.allclose(exact, rounded, atol=0.05) and not np.array_equal(exact, rounded)
    assert float32_copy(copy) is copy  # a float32 model needs no copy


def test_a_bfloat16_run_records_it_and_leaves_a_float32_model_that_converts_to_int8(tmp_path, demo_data):
    from convert.config import ConvertConfig
    from convert.convert import convert_run
    from training.models import load_model
    from training.train import train

    config = TrainConfig(
        data=demo_data.root, out=tmp_path / "run", backbone="tiny", weights="none", epochs=4,
        batch_size=16, image_size=32, precision="bfloat16", verbose=0,
    )  # fmt: skip
    run = train(config).run_dir
    assert json.loads((run / "config.json").read_text())["config"]["precision"] == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"

    model = load_model(run / "model.keras")
    assert {layer.dtype_policy.name for layer in layers_of(model)} == {"float32"}
    result = convert_run(
        ConvertConfig(run_dir=run, out=tmp_path / "bundle", precision="int8", progress=False)
    )
    assert result.published, result.report
    bundle = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert bundle["input"]["dtype"] == "uint8"


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown precision 'int4'"):
        TrainConfig(data=tmp_path, out=tmp_path, precision="int4")
