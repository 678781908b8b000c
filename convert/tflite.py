"""Keras model -> TFLite flatbuffer bytes, in one of three precisions.

One route for every precision: export a SavedModel whose serving signature is fixed to a batch of
one [1, H, W, 3] float32 image, then run TFLiteConverter.from_saved_model. A fixed signature gives
fixed tensor shapes (the Edge TPU compiler rejects dynamic ones), and the SavedModel route works for
Keras 3 models (including nested sub-models) where from_keras_model is unreliable.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from convert.errors import ConvertError

PRECISIONS = ("int8", "float16", "float32")
IO_DTYPES = ("uint8", "int8")


def to_tflite(
    model: Any,
    input_size: tuple[int, int],
    precision: str,
    io_dtype: str = "uint8",
    representative: Callable[[], Iterator] | None = None,
) -> bytes:
    """Convert; int8 is full-integer (int8 weights and activations, `io_dtype` input and output)."""
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise ConvertError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    if precision == "int8" and representative is None:
        raise ConvertError("int8 conversion needs a representative dataset")
    height, width = input_size
    signature = [tf.TensorSpec([1, height, width, 3], tf.float32, name="pixels")]
    with tempfile.TemporaryDirectory(prefix="edge-all-savedmodel-") as saved_model:
        try:
            model.export(saved_model, format="tf_saved_model", input_signature=signature, verbose=False)
        except Exception as exc:  # export errors come from deep inside TF; keep the first line
            raise ConvertError(f"cannot export the model as a SavedModel ({_first_line(exc)})") from None
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        if precision == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            # Builtin int8 kernels only: conversion fails rather than leaving a float op behind,
            # which the Edge TPU could not run.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io_type = {"uint8": tf.uint8, "int8": tf.int8}[io_dtype]
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
        elif precision == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        try:
            with warnings.catch_warnings():
                # "Statistics for quantized inputs were expected": the ranges come from calibration.
                warnings.simplefilter("ignore", UserWarning)
                return bytes(converter.convert())
        except Exception as exc:
            raise ConvertError(f"TFLite {precision} conversion failed ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
