"""The gate's two model runners on a model small enough to build in the test: Keras in batches, and
the converted model through the device runtime's Classifier, both against numpy's answer.

The model: the mean of each RGB channel of the picture, times 10, minus 5, as three class scores;
built with Keras here and converted with TensorFlow's converter (float32, so the answers agree).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from convert.accuracy import FLOAT_BATCH, converted_outputs, float_probabilities
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.tensors import softmax

SIZE = 4


def colour_model(with_softmax: bool):
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    dense = keras.layers.Dense(3, activation="softmax" if with_softmax else None)
    model = keras.Model(inputs, dense(pooled))
    dense.set_weights([np.eye(3, dtype=np.float32) * 10, np.full(3, -5, np.float32)])
    return model


def pictures(count: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)


def expected_logits(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float64).mean(axis=(1, 2)) / 255 * 10 - 5


@pytest.mark.parametrize("with_softmax", [True, False], ids=["softmax", "logits"])
def test_float_probabilities_cover_every_image_in_batches(with_softmax):
    pixels = pictures(2 * FLOAT_BATCH + 5)  # two full batches and a short one
    probabilities = float_probabilities(colour_model(with_softmax), pixels)
    assert probabilities.dtype == np.float64 and probabilities.shape == (len(pixels), 3)
    assert probabilities == pytest.approx(softmax(expected_logits(pixels)), abs=1e-5)
    assert FLOAT_BATCH == 32


def test_converted_outputs_are_the_runtimes_answers(tmp_path):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(colour_model(with_softmax=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        (tmp_path / "colour.tflite").write_bytes(converter.convert())
    classifier = Classifier.load(tmp_path / "colour.tflite", labels=["red", "green", "blue"], threads=1)
    pixels = pictures(5)
    outputs = converted_outputs(classifier, pixels)
    assert outputs.probabilities.dtype == np.float64 and outputs.probabilities.shape == (5, 3)
    assert outputs.probabilities == pytest.approx(softmax(expected_logits(pixels)), abs=1e-5)
    assert outputs.unfamiliarity is None  # a plain model has no referral detector
    none = converted_outputs(classifier, pixels[:0])
    assert none.probabilities.shape == (0, 0) and none.unfamiliarity is None
