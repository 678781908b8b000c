"""Classify one image with a bundle or a plain `.tflite` model: the device's one inference path.

Everything per model (interpreter, tensor indices, the pixel lookup table) is prepared once in
`Classifier.load`, so `predict` is preprocessing, one table lookup into the interpreter's own
input buffer, `invoke()` and a small output copy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_all.backend import EDGETPU_LIBRARY, Backend, BackendError, find_interpreter, load_delegate
from edge_all.bundle import EDGETPU_MODEL_FILE, MODEL_FILE, BundleManifest, is_bundle, read_manifest
from edge_all.errors import EdgeAllError
from edge_all.images import ImageSource, Preprocessing, prepare
from edge_all.labels import LabelsError, read_labels
from edge_all.model_ops import NotATfliteModel, custom_op_names
from edge_all.tensors import (
    SUPPORTED_INPUT_DTYPES,
    OutputDecoder,
    TensorSpec,
    input_lut,
    is_softmax_quantization,
    quantized_real_range,
)

# Plain models get no crop: a model from elsewhere documents no preprocessing, and stretching the
# whole field of view keeps every cell in the picture.
PLAIN_PREPROCESSING = Preprocessing(crop="none")
# Bundled models take raw 0-255 pixels (normalisation is inside the graph).
RAW_PIXELS = (0.0, 255.0)
# How `info` describes the output decision (OutputDecoder.logits).
OUTPUT_KINDS = {
    True: "logits (softmax applied)",
    False: "probabilities",
    None: "float scores (softmax applied unless they already sum to 1)",
}
# The custom op that edgetpu_compiler puts in place of the graph it maps onto the Edge TPU.
EDGETPU_CUSTOM_OP = "edgetpu-custom-op"


class ModelError(EdgeAllError):
    """A model, bundle or labels file that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    confidence: float
    probabilities: np.ndarray  # float32, one per label, summing to ~1
    inference_ms: float  # the interpreter's invoke() only

    def top_k(self, labels: list[str], k: int) -> list[tuple[str, float]]:
        """The k most probable (label, probability) pairs, best first."""
        order = np.argsort(self.probabilities)[::-1][: max(1, k)]
        return [(labels[i], float(self.probabilities[i])) for i in order]


class Classifier:
    """A loaded model with its labels and preprocessing; create with `Classifier.load`.

    One interpreter per Classifier, so use one Classifier per thread.
    """

    def __init__(
        self,
        interpreter: Any,
        backend: Backend,
        labels: list[str],
        model_path: Path,
        preprocessing: Preprocessing,
        manifest: BundleManifest | None,
        pixel_range: tuple[float, float] | None = None,
    ) -> None:
        self._interpreter = interpreter
        self.backend = backend
        self.labels = labels
        self.model_path = model_path
        self.preprocessing = preprocessing
        self.manifest = manifest
        (input_details,) = _single(interpreter.get_input_details(), model_path, "input")
        (output_details,) = _single(interpreter.get_output_details(), model_path, "output")
        self.input = TensorSpec.from_details(input_details)
        self.output = TensorSpec.from_details(output_details)
        signature = [int(d) for d in input_details.get("shape_signature", input_details["shape"])]
        if any(d < 0 for d in signature[1:]):
            raise ModelError(
                f"{model_path}: input shape {signature} has a free height, width or channel count; "
                "the runtime needs a fixed input size (convert with a fixed image size)"
            )
        self._check_shapes()
        self._input_index = int(input_details["index"])
        self._output_index = int(output_details["index"])
        dtype = np.dtype(self.input.dtype)
        if pixel_range is None:
            pixel_range = (
                quantized_real_range(dtype, self.input.quantization)
                if self.input.quantization
                else RAW_PIXELS
            )
        self.pixel_range = pixel_range
        self._lut = input_lut(dtype, self.input.quantization, pixel_range)
        # uint8 pixels that map to themselves need no lookup, only the one copy into the tensor.
        self._identity = dtype == np.uint8 and np.array_equal(self._lut, np.arange(256))
        self._decode = OutputDecoder(self.output.quantization, self._outputs_are_logits())

    # ----------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | Path,
        labels: str | Path | list[str] | None = None,
        threads: int | None = None,
        edgetpu: bool = False,
        backend: str | None = None,
    ) -> Classifier:
        """Load a bundle directory (sha256-verified) or a plain `.tflite` with an optional labels file.

        `threads=None` uses every core; `edgetpu=True` loads the Edge TPU delegate and, for a bundle,
        its Edge TPU-compiled model; `backend` forces one interpreter backend by name.
        """
        path = Path(path)
        if threads is not None and threads < 1:
            raise ModelError(f"threads must be at least 1, got {threads}")
        threads = threads or os.cpu_count() or 1
        module = find_interpreter(backend)
        # The delegate first: a missing Edge TPU runtime is the error to see, whatever the model.
        delegate = load_delegate(module, EDGETPU_LIBRARY) if edgetpu else None
        if path.is_dir():
            if not is_bundle(path):
                raise ModelError(f"{path}: a directory without bundle.json is not a model bundle")
            if labels is not None:
                raise ModelError(
                    f"{path}: a bundle carries its own labels; --labels is for plain .tflite models"
                )
            manifest = read_manifest(path)
            model_path = path / (EDGETPU_MODEL_FILE if edgetpu else MODEL_FILE)
            if edgetpu and not model_path.is_file():
                raise ModelError(
                    f"{path}: no {EDGETPU_MODEL_FILE} in this bundle (convert with --edgetpu to make one)"
                )
            interpreter, used = module.make(str(model_path), threads, delegate)
            return cls(
                interpreter, used, manifest.labels, model_path, manifest.preprocessing, manifest, RAW_PIXELS
            )
        if not path.is_file():
            raise ModelError(f"{path}: no such model file or bundle directory")
        if path.suffix != ".tflite":
            raise ModelError(f"{path}: not a .tflite model or a bundle directory")
        if edgetpu and not is_edgetpu_compiled(path):
            raise ModelError(f"{path}: not compiled for the Edge TPU (run edgetpu_compiler on it first)")
        interpreter, used = module.make(str(path), threads, delegate)
        label_list = _resolve_labels(labels, interpreter, path)
        return cls(interpreter, used, label_list, path, PLAIN_PREPROCESSING, None)

    # ----------------------------------------------------------------------------------------
    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return self.input.shape[1], self.input.shape[2]

    def prepare(self, image: ImageSource) -> np.ndarray:
        """The model-sized uint8 RGB pixels for an image (raises images.ImageError)."""
        height, width = self.input_size
        return prepare(image, height, width, self.preprocessing)

    def predict(self, image: ImageSource) -> Prediction:
        """Classify a path, PIL image or RGB uint8 array (raises images.ImageError for bad input)."""
        return self.predict_pixels(self.prepare(image))

    def predict_pixels(self, pixels: np.ndarray) -> Prediction:
        """Classify pixels already at the input size (the output of `prepare`)."""
        if pixels.shape != self.input.shape[1:] or pixels.dtype != np.uint8:
            raise ValueError(
                f"expected {self.input.shape[1:]} uint8 pixels, got {pixels.shape} {pixels.dtype}"
            )
        interpreter = self._interpreter
        if self._identity:
            interpreter.set_tensor(self._input_index, pixels[None])
        else:
            # Write straight into the interpreter's buffer; the view must be gone before invoke().
            buffer = interpreter.tensor(self._input_index)()
            np.take(self._lut, pixels, out=buffer[0], mode="clip")
            del buffer
        start = time.perf_counter()
        try:
            interpreter.invoke()
        except RuntimeError as exc:  # e.g. an Edge TPU unplugged mid-run
            raise BackendError(
                f"{self.model_path}: {self.backend.name} failed to run the model ({exc})"
            ) from None
        inference_ms = (time.perf_counter() - start) * 1000.0
        probabilities = self._decode(interpreter.get_tensor(self._output_index))
        index = int(np.argmax(probabilities))
        return Prediction(
            label=self.labels[index],
            index=index,
            confidence=float(probabilities[index]),
            probabilities=probabilities,
            inference_ms=inference_ms,
        )

    def describe(self) -> dict[str, Any]:
        """Model facts for `edge-all info` (JSON-friendly)."""

        def tensor(spec: TensorSpec, details: dict) -> dict[str, Any]:
            quant = spec.quantization
            return {
                "name": str(details["name"]),
                "shape": list(spec.shape),
                "dtype": spec.dtype,
                "quantization": {"scale": quant.scale, "zero_point": quant.zero_point} if quant else None,
            }

        facts: dict[str, Any] = {
            "model": str(self.model_path),
            "input": tensor(self.input, self._interpreter.get_input_details()[0]),
            "output": tensor(self.output, self._interpreter.get_output_details()[0]),
            "outputs": OUTPUT_KINDS[self._decode.logits],
            "pixel_range": list(self.pixel_range),
            "preprocessing": self.preprocessing.to_dict(),
            "labels": list(self.labels),
            "bundle": None,
        }
        if self.manifest is not None:
            manifest = self.manifest
            facts["bundle"] = {
                "precision": manifest.precision,
                "model_sha256": manifest.model_sha256,
                "source_run": manifest.source_run,
                "created": manifest.created,
                "edge_all_version": manifest.edge_all_version,
                "accuracy_check": manifest.accuracy_check,
            }
        return facts

    # ----------------------------------------------------------------------------------------
    def _check_shapes(self) -> None:
        shape, dtype = self.input.shape, self.input.dtype
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or min(shape) < 1:
            raise ModelError(f"{self.model_path}: input shape {list(shape)} is not one NHWC RGB image")
        if dtype not in SUPPORTED_INPUT_DTYPES:
            raise ModelError(f"{self.model_path}: input dtype {dtype} is not one of {SUPPORTED_INPUT_DTYPES}")
        outputs = int(np.prod(self.output.shape))
        if outputs != len(self.labels):
            raise ModelError(
                f"{self.model_path}: the model has {outputs} outputs but there are {len(self.labels)} labels"
            )
        if self.manifest is not None:
            _check_spec(self.model_path, "input", self.manifest.input, self.input)
            _check_spec(self.model_path, "output", self.manifest.output, self.output)

    def _outputs_are_logits(self) -> bool | None:
        if self.manifest is not None:
            return self.manifest.outputs == "logits"
        quant = self.output.quantization
        if quant is not None:
            return not is_softmax_quantization(np.dtype(self.output.dtype), quant)
        return None  # plain float model: decided per output (see tensors.OutputDecoder)


def is_edgetpu_compiled(model_path: Path) -> bool:
    """Whether edgetpu_compiler made this model: only then does the Edge TPU delegate run any of it.

    The model's operator table must hold the custom op; its name elsewhere (a tensor, metadata) does
    not count.
    """
    try:
        return EDGETPU_CUSTOM_OP in custom_op_names(model_path.read_bytes())
    except NotATfliteModel as exc:
        raise ModelError(f"{model_path}: not a TFLite model ({exc})") from None


def _single(details: list[dict], model_path: Path, kind: str) -> list[dict]:
    if len(details) != 1:
        raise ModelError(f"{model_path}: expected one {kind} tensor, found {len(details)}")
    return details


def _check_spec(model_path: Path, kind: str, spec: TensorSpec, actual: TensorSpec) -> None:
    if tuple(spec.shape) != actual.shape or spec.dtype != actual.dtype:
        raise ModelError(
            f"{model_path}: {kind} is {list(actual.shape)} {actual.dtype} but bundle.json says "
            f"{list(spec.shape)} {spec.dtype}"
        )


def _resolve_labels(labels: str | Path | list[str] | None, interpreter: Any, model_path: Path) -> list[str]:
    """Labels from a file or list; without any, outputs are named by their index."""
    if labels is None:
        (output,) = interpreter.get_output_details()[:1]
        return [str(i) for i in range(int(np.prod(output["shape"])))]
    if isinstance(labels, (str, Path)):
        try:
            return read_labels(labels)
        except LabelsError as exc:
            raise ModelError(str(exc)) from None
    return [str(label) for label in labels]
