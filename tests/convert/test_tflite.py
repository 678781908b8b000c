"""The converter itself: an "int8" model must be integer all the way through, or it is refused."""

from __future__ import annotations

import numpy as np
import pytest

from convert.errors import ConvertError
from convert.tflite import float_ops, to_tflite


def _calibration():
    rng = np.random.default_rng(0)
    for _ in range(4):
        yield [rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)]


def _model(with_cumsum: bool):
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if with_cumsum:  # CUMSUM has no int8 kernel: TFLite keeps it in float between (de)quantize ops
        x = keras.layers.Lambda(lambda t: keras.ops.cumsum(t, axis=-1))(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_a_layer_without_an_integer_kernel_is_refused():
    with pytest.raises(ConvertError, match=r"left op\(s\) in float \(CUMSUM\).*--float16"):
        to_tflite(_model(with_cumsum=True), (16, 16), "int8", "uint8", _calibration)


def test_integer_and_float_conversions_of_the_same_model():
    model = _model(with_cumsum=False)
    int8 = to_tflite(model, (16, 16), "int8", "int8", _calibration)
    assert float_ops(int8) == []
    float16 = to_tflite(model, (16, 16), "float16")
    assert "DEQUANTIZE" in float_ops(float16)  # float16 weights are widened to float32 at load
    assert to_tflite(model, (16, 16), "float32") != float16


def test_int8_needs_calibration_data():
    with pytest.raises(ConvertError, match="representative dataset"):
        to_tflite(_model(with_cumsum=False), (16, 16), "int8")
