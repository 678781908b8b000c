"""The one vocabulary for model tensors: their specs, their quantization, and softmax.

Pixels go into a model's input tensor and its output tensor comes back as class probabilities
here. Quantized models carry their own scale and zero point; getting these wrong is the classic
cause of an int8 model that "always predicts one class", so the rules live here, once, with their
reasons. bundle.json, the Classifier and the converter all describe tensors with TensorSpec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_all.jsonfile import JsonObject

SUPPORTED_INPUT_DTYPES = ("uint8", "int8", "float32")
# Values all >= -this that sum to 1 within this are already probabilities (a softmax's output).
PROBABILITY_SUM_TOLERANCE = 1e-2


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: what bundle.json records and what the interpreter reports."""

    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "uint8", "int8", "float32", "float16"
    quantization: Quantization | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        """From bundle.json's "input" or "output" (types checked: see edge_all.jsonfile)."""
        doc = JsonObject.of(data, "tensor")
        quant = doc.object("quantization", None)
        return cls(
            shape=tuple(doc.integers("shape", minimum=0)),
            dtype=doc.text("dtype"),
            quantization=(
                Quantization(quant.number("scale"), quant.integer("zero_point"))
                if quant is not None
                else None
            ),
        )

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> TensorSpec:
        """From a TFLite interpreter's get_input_details() / get_output_details() entry."""
        return cls(
            shape=tuple(int(d) for d in details["shape"]),
            dtype=np.dtype(details["dtype"]).name,
            quantization=quantization_of(details),
        )


def quantization_of(details: dict[str, Any]) -> Quantization | None:
    """The tensor's per-tensor affine quantization, or None for a float tensor."""
    scale, zero_point = details.get("quantization", (0.0, 0))
    if not scale:
        return None
    return Quantization(float(scale), int(zero_point))


def input_lut(
    dtype: np.dtype, quantization: Quantization | None, pixel_range: tuple[float, float]
) -> np.ndarray:
    """A 256-entry table from a uint8 pixel value to the input tensor's value.

    `pixel_range` is the real value that pixels 0 and 255 stand for in the model's own units
    (bundles: (0, 255), because the network's normalisation is inside the graph). A table makes
    the per-frame cost one `np.take`, whatever the dtype and quantization.
    """
    low, high = pixel_range
    real = low + np.arange(256, dtype=np.float64) * ((high - low) / 255.0)
    if quantization is None:
        return real.astype(dtype)
    info = np.iinfo(dtype)
    quantized = np.round(real / quantization.scale + quantization.zero_point)
    return np.clip(quantized, info.min, info.max).astype(dtype)


def quantized_real_range(dtype: np.dtype, quantization: Quantization) -> tuple[float, float]:
    """The real values a quantized tensor can represent: what its calibration saw."""
    info = np.iinfo(dtype)
    return (
        quantization.scale * (info.min - quantization.zero_point),
        quantization.scale * (info.max - quantization.zero_point),
    )


def is_softmax_quantization(dtype: np.dtype, quantization: Quantization) -> bool:
    """TFLite's quantized softmax always outputs the range [0, 1] (scale 1/256, zero point at the minimum)."""
    low, high = quantized_real_range(dtype, quantization)
    return abs(low) < 1e-6 and abs(high - 1.0) < 0.01


def softmax(values: np.ndarray) -> np.ndarray:
    """Softmax over the last axis: one output vector, or a batch of them (one per row)."""
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class OutputDecoder:
    """Turns the raw output tensor into probabilities that sum to ~1.

    Softmax is applied only to logits: when the bundle says so, or (for a plain model) when a
    float output is not already a probability vector. Quantized outputs with TFLite's softmax
    quantization are probabilities by construction; other quantized outputs are logits.
    """

    quantization: Quantization | None
    logits: bool | None  # None: decide per output (plain float models)
    temperature: float = 1.0  # calibration (bundle.json): softmax(logits / temperature)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        values = dequantize(raw, self.quantization).reshape(-1)
        logits = self.logits if self.logits is not None else not looks_like_probabilities(values)
        return softmax(values / np.float32(self.temperature)) if logits else values


def dequantize(raw: np.ndarray, quantization: Quantization | None) -> np.ndarray:
    """A tensor's real values as float32: real = scale * (q - zero_point) when quantized."""
    if quantization is None:
        return raw.astype(np.float32, copy=False)
    return (raw.astype(np.float32) - quantization.zero_point) * np.float32(quantization.scale)


def looks_like_probabilities(values: np.ndarray) -> bool:
    """Whether the output vector (or every row of a batch) is already a probability distribution."""
    sums = values.sum(axis=-1)
    return bool(
        values.min() >= -PROBABILITY_SUM_TOLERANCE and np.all(np.abs(sums - 1.0) <= PROBABILITY_SUM_TOLERANCE)
    )
