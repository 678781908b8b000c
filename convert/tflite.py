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

import numpy as np

from convert.config import PRECISIONS
from convert.errors import ConvertError


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
            # Ask for builtin int8 kernels only; the converter still leaves an op without one in
            # float between DEQUANTIZE/QUANTIZE, so check_full_integer verifies the result.
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
                converted = bytes(converter.convert())
        except Exception as exc:
            raise ConvertError(f"TFLite {precision} conversion failed ({_first_line(exc)})") from None
    if precision == "int8":
        check_full_integer(converted)
    return converted


def float_ops(tflite: bytes) -> list[str]:
    """Names of the ops of a model that read or write a float tensor (none in a full-integer model)."""
    from edge_all.runtime.backend import find_interpreter

    interpreter = find_interpreter().module.Interpreter(model_content=tflite)
    tensors = interpreter.get_tensor_details()
    floats = {t["index"] for t in tensors if np.dtype(t["dtype"]).kind == "f"}
    return sorted(
        {
            op["op_name"]
            for op in interpreter._get_ops_details()  # the interpreter's only per-op listing
            if floats.intersection(i for i in (*op["inputs"], *op["outputs"]) if i >= 0)
        }
    )


def check_full_integer(tflite: bytes) -> None:
    """Refuse an "int8" model that still computes in float somewhere: integer-only hardware cannot run it."""
    found = float_ops(tflite)
    if found:
        # The (de)quantize ops around a float op are symptoms; name the op itself.
        culprits = [name for name in found if name not in ("QUANTIZE", "DEQUANTIZE")] or found
        raise ConvertError(
            f"int8 conversion left op(s) in float ({', '.join(culprits)}): a layer has no integer kernel, so "
            "this is not a full-integer model the Edge TPU could run; replace that layer or use --float16"
        )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
