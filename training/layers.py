"""Preprocessing layers that put each network's own input normalisation inside the model graph.

The model then takes raw 0-255 RGB pixels, so training, conversion and the device cannot disagree on
normalisation. Only simple ops (slice, concatenate, subtract) so int8 TFLite conversion stays clean.
Import this module before `keras.saving.load_model` of a run's model.keras (`training.models.load_model`
does), so the custom layer is registered.
"""

from __future__ import annotations

import keras
from keras import ops

# keras.applications.resnet50.preprocess_input ("caffe" mode): BGR order, ImageNet means subtracted.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="edge_all")
class CaffePreprocess(keras.layers.Layer):
    """RGB 0-255 -> BGR minus the ImageNet channel means, as ResNet50's `preprocess_input` does."""

    def __init__(self, mean: tuple[float, float, float] = IMAGENET_BGR_MEAN, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        bgr = ops.concatenate([x[..., 2:3], x[..., 1:2], x[..., 0:1]], axis=-1)
        return bgr - ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": list(self.mean)}


def preprocessing_layer(backbone: str) -> keras.layers.Layer:
    """The layer that turns raw pixels into what `backbone` expects."""
    if backbone == "resnet50":
        return CaffePreprocess(name="resnet50_preprocess")
    if backbone == "mobilenetv2":  # mobilenet_v2.preprocess_input: [-1, 1]
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="mobilenetv2_preprocess")
    return keras.layers.Rescaling(1 / 255.0, name="tiny_preprocess")
