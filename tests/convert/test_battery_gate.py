"""The robustness gate refuses a converted model that is right on clean images but brittle under the battery.

Two real networks, one float (Keras) and one on the device runtime (a real TFLite interpreter):
the float network judges a field by its mean colour, which no rotation or mirror changes. The
brittle device model looks only at the left quarter of the image, as a conversion that lost a
pooling op or mis-set a crop might: on clean images it agrees with the float model, mirrored it
does not. The gate must pass the faithful conversion and fail the brittle one, naming the
conditions.
"""

from __future__ import annotations

import numpy as np
import pytest

from convert.battery_check import check_battery
from edge_all.runtime.classifier import Classifier

LABELS = ["Benign", "Early", "Pre", "Pro"]
COLOURS = np.array([[230, 40, 40], [40, 230, 40], [40, 40, 230], [230, 230, 40]], np.float32)
GREY = 128
SIZE = 32


def fields(per_class: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Left half the class's colour (with a little noise), right half grey."""
    rng = np.random.default_rng(0)
    pixels, labels = [], []
    for label, colour in enumerate(COLOURS):
        for _ in range(per_class):
            image = np.full((SIZE, SIZE, 3), GREY, np.float32)
            image[:, : SIZE // 2] = colour
            image += rng.normal(0, 4, image.shape)
            pixels.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(pixels), np.array(labels)


def nearest_colour_model(prototypes: np.ndarray, left_quarter_only: bool):
    """Logits = -|mean colour - prototype|^2 (a linear layer on the mean colour), scaled down."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Cropping2D(((0, 0), (0, SIZE * 3 // 4)))(inputs) if left_quarter_only else inputs
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(len(prototypes))
    outputs = dense(x)
    scale = 1 / 1000
    dense.set_weights([2 * prototypes.T * scale, -(prototypes**2).sum(axis=1) * scale])
    return keras.Model(inputs, outputs)


def device_model(model, path, tmp_path) -> Classifier:
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    return Classifier.load(path, labels=labels)


@pytest.fixture(scope="module")
def float_model():
    return nearest_colour_model(0.5 * COLOURS + 0.5 * GREY, left_quarter_only=False)


def test_a_faithful_conversion_passes_every_condition(float_model, tmp_path):
    pixels, truth = fields()
    classifier = device_model(float_model, tmp_path / "faithful.tflite", tmp_path)
    report = check_battery(float_model, classifier, pixels, truth, LABELS, max_drop_pp=1.0)
    assert report["passed"], report["failed_conditions"]
    assert all(abs(c["drop_pp"]) < 1e-6 for c in report["conditions"])


def test_a_conversion_brittle_under_the_battery_fails_the_gate(float_model, tmp_path):
    pixels, truth = fields()
    brittle = nearest_colour_model(COLOURS, left_quarter_only=True)
    classifier = device_model(brittle, tmp_path / "brittle.tflite", tmp_path)
    report = check_battery(float_model, classifier, pixels, truth, LABELS, max_drop_pp=1.0)
    checks = {c["name"]: c for c in report["conditions"]}
    assert checks["clean"]["float_accuracy"] == checks["clean"]["converted_accuracy"] == 1.0
    assert checks["clean"]["passed"] and checks["flip"]["passed"]  # top-bottom keeps the left quarter
    assert report["passed"] is False
    # mirrored or turned half-way round, the left quarter is grey: those are refused
    assert {"mirror", "rot180"} <= set(report["failed_conditions"])
    assert checks["mirror"]["converted_accuracy"] <= 0.5 and checks["mirror"]["float_accuracy"] == 1.0
