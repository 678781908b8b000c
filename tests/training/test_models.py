"""The networks: the seed's ResNet50 shape, preprocessing inside the graph, weights handling."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

from training.config import ConfigError, TrainConfig

MOBILENET_WEIGHTS = (
    Path(__file__).resolve().parents[3] / "shared/weights/mobilenet_v2_1.0_224_imagenet_notop.weights.h5"
)


def _config(tmp_path, **kwargs) -> TrainConfig:
    return TrainConfig(data=tmp_path, out=tmp_path / "run", **kwargs)


def _online() -> bool:
    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=2).close()
        return True
    except OSError:
        return False


def test_resnet50_matches_the_seed_model(tmp_path):
    import keras

    from training.models import build_classifier

    parts = build_classifier(_config(tmp_path, backbone="resnet50", weights="none"), num_classes=4)
    assert parts.base.count_params() == 23_587_712
    assert parts.head.count_params() == 401_412
    assert [type(layer).__name__ for layer in parts.head.layers[1:]] == ["Flatten", "Dropout", "Dense"]
    assert parts.head.get_layer("dropout").rate == 0.5
    assert parts.head.get_layer("predictions").activation is keras.activations.softmax
    assert tuple(parts.model.input_shape) == (None, 224, 224, 3)
    assert parts.base.trainable  # random init: the whole network trains


def test_caffe_preprocess_is_resnet50_preprocess_input_and_survives_save_load(tmp_path):
    import keras

    from training.layers import CaffePreprocess
    from training.models import load_model

    pixels = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.float32)
    expected = keras.applications.resnet50.preprocess_input(pixels.copy())
    assert np.allclose(keras.ops.convert_to_numpy(CaffePreprocess()(pixels)), expected, atol=1e-4)

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, CaffePreprocess()(inputs))
    model.save(tmp_path / "m.keras")
    assert np.allclose(
        keras.ops.convert_to_numpy(load_model(tmp_path / "m.keras")(pixels)), expected, atol=1e-4
    )


def test_mobilenet_scaling_is_its_preprocess_input():
    import keras

    from training.layers import preprocessing_layer

    pixels = np.array([[[[0.0, 127.5, 255.0]]]], np.float32)
    expected = keras.applications.mobilenet_v2.preprocess_input(pixels.copy())
    got = keras.ops.convert_to_numpy(preprocessing_layer("mobilenetv2")(pixels))
    assert np.allclose(got, expected)


def test_preprocessing_converts_to_full_int8_tflite(tmp_path):
    """Only simple ops in the graph, so the int8 converter keeps everything integer."""
    import keras
    import tensorflow as tf

    from training.layers import CaffePreprocess

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3)(CaffePreprocess()(inputs))
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    samples = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    blob = converter.convert()

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=blob)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    assert detail["dtype"] == np.uint8
    interpreter.set_tensor(detail["index"], samples[:1].astype(np.uint8))
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert out.dtype == np.uint8 and out.shape == (1, 4)


@pytest.mark.skipif(not MOBILENET_WEIGHTS.is_file(), reason="shared MobileNetV2 weights not present")
def test_mobilenetv2_from_a_weights_file_is_frozen_with_a_pooling_head(tmp_path):
    import keras

    from training.models import build_classifier, unfreeze_top

    config = _config(tmp_path, backbone="mobilenetv2", weights=str(MOBILENET_WEIGHTS), image_size=96)
    assert config.head == "gap" and config.frozen_base
    parts = build_classifier(config, num_classes=4)
    assert not parts.base.trainable
    assert parts.head.count_params() == 1280 * 4 + 4
    reference = keras.applications.MobileNetV2(
        include_top=False, input_shape=(96, 96, 3), weights=str(MOBILENET_WEIGHTS)
    )
    assert np.array_equal(
        parts.base.get_layer("Conv1").get_weights()[0], reference.get_layer("Conv1").get_weights()[0]
    )

    unfreeze_top(parts.base, 20)
    layers = parts.base.layers
    assert not any(layer.trainable for layer in layers[:-20])
    top = layers[-20:]
    assert any(layer.trainable for layer in top)
    assert not any(layer.trainable for layer in top if isinstance(layer, keras.layers.BatchNormalization))


def test_weights_errors_are_one_line_and_say_what_to_do(tmp_path):
    from training.models import WeightsError, build_base

    with pytest.raises(WeightsError, match="weights file not found"):
        build_base("mobilenetv2", str(tmp_path / "nope.h5"), 96)
    with pytest.raises(WeightsError, match="no ImageNet weights"):
        build_base("tiny", "imagenet", 64)
    (tmp_path / "bad.weights.h5").write_bytes(b"not weights")
    with pytest.raises(WeightsError, match="cannot load") as info:
        build_base("tiny", str(tmp_path / "bad.weights.h5"), 64)
    assert "\n" not in str(info.value)


def _cached_resnet50_weights() -> bool:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return (home / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").exists()


@pytest.mark.skipif(_online() or _cached_resnet50_weights(), reason="the ImageNet weights are reachable")
def test_offline_imagenet_stops_with_the_two_offline_routes():
    """A real download attempt (no mocks): offline it must end in one actionable line."""
    from training.models import WeightsError, build_base

    with pytest.raises(WeightsError) as info:
        build_base("resnet50", "imagenet", 224)
    message = str(info.value)
    assert "\n" not in message
    assert "--weights FILE" in message and "--weights none" in message


def test_config_rejects_what_cannot_work(tmp_path):
    with pytest.raises(ConfigError, match="unknown backbone"):
        _config(tmp_path, backbone="vgg")
    with pytest.raises(ConfigError, match="unknown head"):
        _config(tmp_path, head="attention")
    with pytest.raises(ConfigError, match="needs pretrained weights"):
        _config(tmp_path, weights="none", fine_tune_epochs=2)
    assert _config(tmp_path).head == "flatten" and _config(tmp_path, backbone="tiny").head == "gap"


def test_a_cosine_schedule_decays_the_rate_to_zero_over_the_phase():
    import keras

    from training.models import compile_model

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    compile_model(model, 1e-3, decay_steps=10)
    schedule = model.optimizer._learning_rate  # the schedule object behind the current value
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(10)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedule(5)) == pytest.approx(5e-4, rel=1e-3)
    compile_model(model, 1e-3)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_schedule_and_patience_are_checked():
    with pytest.raises(ConfigError, match="learning-rate schedule 'step'"):
        TrainConfig(data="d", out="o", lr_schedule="step")
    with pytest.raises(ConfigError, match="patience"):
        TrainConfig(data="d", out="o", patience=0)
