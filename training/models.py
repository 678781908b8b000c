"""Build the classifier: preprocessing layer -> backbone -> head, as one Keras model on raw pixels.

The backbone and the head are separate sub-models so a frozen backbone's outputs can be computed once
and the head trained on them, while the saved model stays the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from edge_all.errors import EdgeAllError
from training.config import TrainConfig
from training.layers import preprocessing_layer
from training.run_dir import RunError


class WeightsError(EdgeAllError):
    """Backbone weights that cannot be had (offline, missing file, wrong file)."""


@dataclass
class ClassifierParts:
    """The full model (what gets saved) and the parts that share its layers."""

    model: keras.Model  # raw pixels -> class probabilities
    features: keras.Model  # raw pixels -> backbone output (preprocessing + base)
    base: keras.Model  # the backbone alone
    head: keras.Model  # backbone output -> class probabilities


def _tiny_base(input_shape: tuple[int, int, int]) -> keras.Model:
    """Three conv blocks: enough for the synthetic smears, small enough for tests on 2 cores."""
    inputs = keras.Input(input_shape)
    x = inputs
    for i, filters in enumerate((32, 64, 128), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = keras.layers.BatchNormalization(momentum=0.5, name=f"block{i}_bn")(x)
        x = keras.layers.ReLU(name=f"block{i}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    return keras.Model(inputs, x, name="tiny")


def _offline_message(backbone: str, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"cannot download the ImageNet weights for {backbone} ({first}); offline, pass "
        "--weights FILE (a Keras weights file for the backbone without its top, "
        "e.g. mobilenet_v2_1.0_224_imagenet_notop.weights.h5 with --backbone mobilenetv2) "
        "or --weights none (random init; the whole network trains)"
    )


def build_base(backbone: str, weights: str, image_size: int) -> keras.Model:
    """The backbone without its top, with `weights` "imagenet", "none" or a weights file path."""
    shape = (image_size, image_size, 3)
    if weights not in ("imagenet", "none"):
        path = Path(weights)
        if not path.is_file():
            raise WeightsError(f"{path}: weights file not found")
    if backbone == "tiny":
        if weights == "imagenet":
            raise WeightsError(
                "the tiny backbone has no ImageNet weights: use --weights none or --weights FILE"
            )
        base = _tiny_base(shape)
        if weights != "none":
            _load_weights(base, weights)
        return base
    factory = {"resnet50": keras.applications.ResNet50, "mobilenetv2": keras.applications.MobileNetV2}[
        backbone
    ]
    arg = None if weights == "none" else weights
    try:
        return factory(include_top=False, input_shape=shape, weights=arg)
    except ValueError as exc:
        if weights not in ("imagenet", "none"):
            raise WeightsError(
                f"{weights}: not weights for {backbone} at {image_size}x{image_size} ({exc})"
            ) from None
        raise WeightsError(f"{backbone}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # keras.utils.get_file raises a bare Exception when the download fails
        if weights == "imagenet":
            raise WeightsError(_offline_message(backbone, exc)) from None
        raise WeightsError(f"{weights}: cannot load backbone weights ({str(exc).splitlines()[0]})") from None


def _load_weights(model: keras.Model, path: str) -> None:
    try:
        model.load_weights(path)
    except Exception as exc:  # h5py/keras raise many types for a wrong or corrupt file
        raise WeightsError(
            f"{path}: cannot load as {model.name} weights ({str(exc).splitlines()[0]})"
        ) from None


def build_head(feature_shape: tuple[int, ...], head: str, num_classes: int, dropout: float) -> keras.Model:
    inputs = keras.Input(feature_shape)
    if head == "flatten":
        x = keras.layers.Flatten(name="flatten")(inputs)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(inputs)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    # float32 softmax whatever the training precision: probabilities near 0 and 1 need it
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="head")


def head_dropout(config: TrainConfig) -> float:
    """The seed's Dropout(0.5) before the flatten head; a lighter 0.2 after pooling; none for tiny."""
    if config.backbone == "tiny":
        return 0.0
    return 0.5 if config.head == "flatten" else 0.2


def build_classifier(config: TrainConfig, num_classes: int) -> ClassifierParts:
    """Raw 0-255 RGB pixels in, softmax out. A pretrained backbone starts frozen."""
    size = config.image_size
    base = build_base(config.backbone, config.weights, size)
    base.trainable = not config.frozen_base
    head = build_head(tuple(base.output.shape[1:]), config.head, num_classes, head_dropout(config))
    pixels = keras.Input((size, size, 3), name="pixels")
    features = base(
        preprocessing_layer(config.backbone)(pixels), training=False if config.frozen_base else None
    )
    outputs = head(features)
    model = keras.Model(pixels, outputs, name=f"edge_all_{config.backbone}")
    return ClassifierParts(model=model, features=keras.Model(pixels, features), base=base, head=head)


def export_model(model: keras.Model) -> keras.Model:
    """The network the device runs, from a trained classifier: raw pixels in, and out

    - "logits": the class scores before softmax (the runtime applies softmax, calibrated);
    - "features": the globally averaged last feature map, which the referral detector models
      (for a flatten head too, where the classifier itself reads the flattened map);
    - "feature_map": the last feature map itself, for class activation maps (GAP heads only).

    The layers and weights are the trained model's own; only the softmax is left out.
    """
    try:
        head = model.get_layer("head")
        dense = head.get_layer("predictions")
        base = next(layer for layer in model.layers if isinstance(layer, keras.Model) and layer is not head)
        preprocess = next(layer for layer in model.layers if layer.name.endswith("_preprocess"))
    except (ValueError, StopIteration):
        raise RunError(f"{model.name}: not an edge-all classifier (preprocessing, backbone, head)") from None
    pixels = keras.Input(model.input_shape[1:], name="pixels")
    feature_map = base(preprocess(pixels), training=False)
    features = keras.layers.GlobalAveragePooling2D(name="features")(feature_map)
    gap_head = any(layer.name == "gap" for layer in head.layers)
    to_logits = keras.layers.Dense(dense.units, name="logits")
    logits = to_logits(features if gap_head else keras.layers.Flatten()(feature_map))
    to_logits.set_weights(dense.get_weights())
    outputs = {"logits": logits, "features": features}
    if gap_head:
        outputs["feature_map"] = feature_map
    return keras.Model(pixels, outputs, name=f"{model.name}_export")


def heatmap_weights(model: keras.Model) -> tuple[np.ndarray, np.ndarray] | None:
    """The (D, C) weights and (C,) bias from pooled features to class scores, for a GAP head; else None."""
    head = model.get_layer("head")
    if not any(layer.name == "gap" for layer in head.layers):
        return None
    kernel, bias = head.get_layer("predictions").get_weights()
    return np.asarray(kernel), np.asarray(bias)


def compile_model(model: keras.Model, learning_rate: float, decay_steps: int | None = None) -> None:
    """Adam, categorical cross-entropy; with `decay_steps`, the rate follows a cosine to zero over them."""
    rate = (
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps) if decay_steps else learning_rate
    )
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )


def unfreeze_top(base: keras.Model, layers: int) -> int:
    """Let the top `layers` of the backbone train; BatchNorm stays frozen. Returns how many train now."""
    base.trainable = True
    count = 0
    for i, layer in enumerate(base.layers):
        top = i >= len(base.layers) - layers
        layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
        count += bool(layer.trainable and layer.weights)
    return count


def load_model(path: str | Path) -> keras.Model:
    """Load a run's model.keras (this module imports the custom preprocessing layer first).

    A damaged or foreign file is a RunError naming it.
    """
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a damaged or foreign file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path}: cannot load the model ({first})") from None
