"""Classify one image with a bundle or a plain `.tflite` model: the device's one inference path.

Everything per model (interpreter, tensor indices, the pixel lookup table) is prepared once in
`Classifier.load`, so `predict` is preprocessing, one table lookup into the interpreter's own
input buffer, `invoke()` and a small output copy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge_all.errors import EdgeAllError
from edge_all.runtime.backend import EDGETPU_LIBRARY, Backend, BackendError, find_interpreter, load_delegate
from edge_all.runtime.bundle import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    EDGETPU_MODEL_FILE,
    HEATMAP_FILE,
    MODEL_FILE,
    REFERRAL_FILE,
    BundleManifest,
    OutputSpec,
    is_bundle,
    read_manifest,
)
from edge_all.runtime.heatmaps import HeatmapWeights, class_activation_map
from edge_all.runtime.images import ImageSource, Preprocessing, prepare
from edge_all.runtime.labels import LabelsError, read_labels
from edge_all.runtime.model_ops import NotATfliteModel, custom_op_names
from edge_all.runtime.referral import ReferralDetector
from edge_all.runtime.tensors import (
    SUPPORTED_INPUT_DTYPES,
    OutputDecoder,
    TensorSpec,
    dequantize,
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
    probabilities: np.ndarray  # float32, one per label, summing to ~1 (calibrated, for bundles that are)
    inference_ms: float  # the interpreter's invoke() only (summed over the views of test-time augmentation)
    unfamiliarity: float | None = None  # 1.0 is the bundle's referral threshold; None: no detector
    heatmap: np.ndarray | None = None  # (h, w) class activation map in [0, 1], when asked for

    @property
    def referred(self) -> bool:
        """Unlike the images the model was trained on: its class and confidence mean little."""
        return self.unfamiliarity is not None and self.unfamiliarity >= 1.0

    def top_k(self, labels: list[str], k: int) -> list[tuple[str, float]]:
        """The k most probable (label, probability) pairs, best first."""
        order = np.argsort(self.probabilities)[::-1][: max(1, k)]
        return [(labels[i], float(self.probabilities[i])) for i in order]


class Predictor(Protocol):
    """What a command needs from a model to judge a field (edge_all.triage.decision): a Classifier is
    one; a test stand-in, or another accelerator's runtime with the same face, can be another."""

    labels: Sequence[str]
    confidence_threshold: float
    can_draw_heatmaps: bool

    def prepare(self, image: np.ndarray) -> np.ndarray: ...

    def predict_pixels(self, pixels: np.ndarray, tta: bool = False, heatmap: bool = False) -> Prediction: ...


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
        referral: ReferralDetector | None = None,
        heatmap_weights: HeatmapWeights | None = None,
    ) -> None:
        self._interpreter = interpreter
        self.backend = backend
        self.labels = labels
        self.model_path = model_path
        self.preprocessing = preprocessing
        self.manifest = manifest
        self.referral = referral
        self.heatmap_weights = heatmap_weights
        (input_details,) = _single(interpreter.get_input_details(), model_path, "input")
        self.input = TensorSpec.from_details(input_details)
        self._outputs = self._resolve_outputs(interpreter.get_output_details())
        self.output = self._outputs["scores"][1]
        signature = [int(d) for d in input_details.get("shape_signature", input_details["shape"])]
        if any(d < 0 for d in signature[1:]):
            raise ModelError(
                f"{model_path}: input shape {signature} has a free height, width or channel count; "
                "the runtime needs a fixed input size (convert with a fixed image size)"
            )
        self._check_shapes()
        self._input_index = int(input_details["index"])
        self._batch = 1  # the batch the input tensor is allocated for (predict_batch resizes it)
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
        temperature = manifest.calibration.temperature if manifest and manifest.calibration else 1.0
        self._decode = OutputDecoder(self.output.quantization, self._outputs_are_logits(), temperature)

    @property
    def confidence_threshold(self) -> float:
        """Below it a result is "uncertain": the bundle's own, or the one default for a plain .tflite."""
        return (
            self.manifest.confidence_threshold if self.manifest is not None else DEFAULT_CONFIDENCE_THRESHOLD
        )

    @property
    def can_draw_heatmaps(self) -> bool:
        return self.heatmap_weights is not None and "feature_map" in self._outputs

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
            referral = _load_extra(ReferralDetector.load, path / REFERRAL_FILE) if manifest.referral else None
            weights = (
                _load_extra(HeatmapWeights.load, path / HEATMAP_FILE) if manifest.heatmap_sha256 else None
            )
            return cls(
                interpreter, used, manifest.labels, model_path, manifest.preprocessing, manifest, RAW_PIXELS,
                referral, weights,
            )  # fmt: skip
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

    def predict(self, image: ImageSource, tta: bool = False, heatmap: bool = False) -> Prediction:
        """Classify a path, PIL image or RGB uint8 array (raises images.ImageError for bad input).

        `tta` averages the prediction over the symmetries of the square (test-time augmentation: a
        smear has no up or left), at 8 times the cost; `heatmap` adds the class activation map.
        """
        return self.predict_pixels(self.prepare(image), tta=tta, heatmap=heatmap)

    def predict_pixels(self, pixels: np.ndarray, tta: bool = False, heatmap: bool = False) -> Prediction:
        """Classify pixels already at the input size (the output of `prepare`)."""
        if pixels.shape != self.input.shape[1:] or pixels.dtype != np.uint8:
            raise ValueError(
                f"expected {self.input.shape[1:]} uint8 pixels, got {pixels.shape} {pixels.dtype}"
            )
        if heatmap and not self.can_draw_heatmaps:
            raise ModelError(
                f"{self.model_path}: this model carries no heat-map weights (a GAP-head bundle does)"
            )
        views = symmetries(pixels.shape) if tta else (IDENTITY,)
        runs = [self._run(view.apply(pixels), heatmap) for view in views]
        probabilities = np.mean([run.probabilities for run in runs], axis=0)
        index = int(np.argmax(probabilities))
        unfamiliarity = (
            float(np.mean([run.unfamiliarity for run in runs])) if runs[0].unfamiliarity is not None else None
        )
        cam = None
        if heatmap:
            maps = [view.undo(class_activation_map(run.feature_map, self.heatmap_weights, index))
                    for view, run in zip(views, runs, strict=True)]  # fmt: skip
            cam = np.mean(maps, axis=0)
        return Prediction(
            label=self.labels[index],
            index=index,
            confidence=float(probabilities[index]),
            probabilities=probabilities.astype(np.float32),
            inference_ms=sum(run.inference_ms for run in runs),
            unfamiliarity=unfamiliarity,
            heatmap=cam,
        )

    @property
    def batches(self) -> bool:
        """Whether several crops can go through one invoke(): a CPU interpreter can resize its input to
        [k, ...]; the Edge TPU (and the IMX500) have fixed shapes, one crop per call."""
        return self.backend.delegate is None

    def predict_batch(self, pixels: np.ndarray) -> list[Prediction]:
        """Classify k images already at the input size ((k, h, w, 3) uint8): one invoke() with the input
        resized to [k, ...] where the backend allows it (`batches`), else one invoke() per image. Each
        prediction's inference_ms is its share of the batch's invoke()."""
        if pixels.ndim != 4 or pixels.shape[1:] != self.input.shape[1:] or pixels.dtype != np.uint8:
            raise ValueError(
                f"expected (k, {', '.join(map(str, self.input.shape[1:]))}) uint8 pixels, "
                f"got {pixels.shape} {pixels.dtype}"
            )
        k = int(pixels.shape[0])
        if k == 0:
            return []
        if k == 1 or not self.batches:
            return [self.predict_pixels(np.ascontiguousarray(crop)) for crop in pixels]
        self._resize_batch(k)
        inference_ms = self._invoke(pixels, batch=True)
        scores = self._interpreter.get_tensor(self._outputs["scores"][0])
        unfamiliarity = None
        if self.referral is not None and "features" in self._outputs:
            unfamiliarity = self.referral.unfamiliarity(self._real("features"))
        predictions = []
        for i in range(k):
            probabilities = self._decode(scores[i : i + 1])
            index = int(np.argmax(probabilities))
            predictions.append(
                Prediction(
                    label=self.labels[index],
                    index=index,
                    confidence=float(probabilities[index]),
                    probabilities=probabilities.astype(np.float32),
                    inference_ms=inference_ms / k,
                    unfamiliarity=float(unfamiliarity[i]) if unfamiliarity is not None else None,
                )
            )
        return predictions

    def _resize_batch(self, k: int) -> None:
        """Give the input tensor a batch of k, allocating the interpreter's tensors only when it changes
        (a slide's fields mostly hold the same few cells, so the size is mostly kept)."""
        if self._batch != k:
            self._interpreter.resize_tensor_input(self._input_index, [k, *self.input.shape[1:]])
            self._interpreter.allocate_tensors()
            self._batch = k

    def raw_outputs(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the model for prepared pixels, as real numbers, by role ("scores" before
        softmax and calibration, "features", "feature_map"): what the converter fits the referral
        detector and the calibration on."""
        self._invoke(pixels)
        return {role: self._real(role)[0] for role in self._outputs}

    def _run(self, pixels: np.ndarray, want_feature_map: bool) -> _Outputs:
        """One invoke(): the decoded scores, the unfamiliarity score, and the feature map if asked."""
        inference_ms = self._invoke(pixels)
        probabilities = self._decode(self._interpreter.get_tensor(self._outputs["scores"][0]))
        unfamiliarity = None
        if self.referral is not None and "features" in self._outputs:
            unfamiliarity = float(self.referral.unfamiliarity(self._real("features"))[0])
        feature_map = self._real("feature_map")[0] if want_feature_map else None
        return _Outputs(probabilities, inference_ms, unfamiliarity, feature_map)

    def _invoke(self, pixels: np.ndarray, batch: bool = False) -> float:
        """Put the pixels (one image, or a batch the input was resized to) into the input tensor and run
        the model; the milliseconds invoke() took."""
        interpreter = self._interpreter
        if not batch:
            self._resize_batch(1)
        if self._identity:
            interpreter.set_tensor(self._input_index, pixels if batch else pixels[None])
        else:
            # Write straight into the interpreter's buffer; the view must be gone before invoke().
            buffer = interpreter.tensor(self._input_index)()
            np.take(self._lut, pixels, out=buffer if batch else buffer[0], mode="clip")
            del buffer
        start = time.perf_counter()
        try:
            interpreter.invoke()
        except RuntimeError as exc:  # e.g. an Edge TPU unplugged mid-run
            raise BackendError(
                f"{self.model_path}: {self.backend.name} failed to run the model ({exc})"
            ) from None
        return (time.perf_counter() - start) * 1000.0

    def _real(self, role: str) -> np.ndarray:
        index, spec = self._outputs[role]
        return dequantize(self._interpreter.get_tensor(index), spec.quantization)

    def describe(self) -> dict[str, Any]:
        """The one description of a loaded model, JSON-friendly: its file, tensors, outputs, pixel
        range, preprocessing, labels and (for a bundle) BundleManifest.describe(). `edge-all info`
        shows it; `edge-all benchmark` formats it."""

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
            "output": tensor(self.output, self._details(self._outputs["scores"][0])),
            "extra_outputs": sorted(role for role in self._outputs if role != "scores"),
            "outputs": OUTPUT_KINDS[self._decode.logits],
            "pixel_range": list(self.pixel_range),
            "preprocessing": self.preprocessing.to_dict(),
            "labels": list(self.labels),
            "bundle": None,
        }
        if self.manifest is not None:  # what the bundle says, and whether this model can draw heat maps
            facts["bundle"] = {**self.manifest.describe(), "heatmaps": self.can_draw_heatmaps}
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
            for role, output in self.manifest.outputs.items():
                _check_spec(self.model_path, f"output {role!r}", output.spec, self._outputs[role][1])

    def _resolve_outputs(self, details: list[dict]) -> dict[str, tuple[int, TensorSpec]]:
        """Which output tensor is which: the bundle names them (by shape if a compiler renamed them)."""
        if self.manifest is None:
            (scores,) = _plain_scores(details, self.labels, self.model_path)
            return {"scores": (int(scores["index"]), TensorSpec.from_details(scores))}
        found = {}
        for role, output in self.manifest.outputs.items():
            match = _find_output(details, output)
            if match is None:
                raise ModelError(
                    f"{self.model_path}: no output tensor matches bundle.json's {role!r} "
                    f"({output.name or 'unnamed'} {list(output.spec.shape)})"
                )
            found[role] = (int(match["index"]), TensorSpec.from_details(match))
        return found

    def _details(self, index: int) -> dict:
        return next(d for d in self._interpreter.get_output_details() if int(d["index"]) == index)

    def _outputs_are_logits(self) -> bool | None:
        if self.manifest is not None:
            return self.manifest.scores.kind == "logits"
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


@dataclass(frozen=True)
class _Outputs:
    probabilities: np.ndarray
    inference_ms: float
    unfamiliarity: float | None
    feature_map: np.ndarray | None


@dataclass(frozen=True)
class Symmetry:
    """One of the 8 symmetries of the square: `k` quarter turns after an optional left-right mirror."""

    turns: int
    mirror: bool

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(pixels[:, ::-1] if self.mirror else pixels, self.turns))

    def undo(self, grid: np.ndarray) -> np.ndarray:
        """Map a (h, w) grid computed on the transformed image back onto the original's positions."""
        back = np.rot90(grid, -self.turns)
        return back[:, ::-1] if self.mirror else back


IDENTITY = Symmetry(0, False)


def symmetries(shape: tuple[int, ...]) -> tuple[Symmetry, ...]:
    """All 8 for a square input; for an oblong one, the 4 that keep its shape."""
    square = shape[0] == shape[1]
    return tuple(
        Symmetry(turns, mirror) for mirror in (False, True) for turns in range(4) if square or turns % 2 == 0
    )


def _find_output(details: list[dict], output: OutputSpec) -> dict | None:
    """The tensor with the recorded name; else the one tensor of the recorded shape, if only one has it."""
    named = [d for d in details if output.name and d["name"] == output.name]
    if named:
        return named[0]
    shaped = [d for d in details if tuple(int(x) for x in d["shape"]) == tuple(output.spec.shape)]
    return shaped[0] if len(shaped) == 1 else None


def _load_extra(load: Any, path: Path) -> Any:
    """A verified extra file of the bundle (detector, heat-map weights), or one line saying why not."""
    try:
        return load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: cannot be read ({exc})") from None


def _plain_scores(details: list[dict], labels: list[str], model_path: Path) -> list[dict]:
    """A plain model's class scores: its one output, or (a bundle's model used bare) the one with a
    score per label."""
    if len(details) == 1:
        return details
    matching = [d for d in details if len(d["shape"]) == 2 and int(np.prod(d["shape"])) == len(labels)]
    if len(matching) != 1:
        raise ModelError(
            f"{model_path}: {len(details)} output tensors and no single one with a score per label "
            f"({len(labels)} labels); give --labels with one label per class"
        )
    return matching


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
    """Labels from a file or list; without any, the outputs of a one-output model are named by index."""
    if labels is None:
        (output,) = _single(interpreter.get_output_details(), model_path, "output (or give --labels)")
        return [str(i) for i in range(int(np.prod(output["shape"])))]
    if isinstance(labels, (str, Path)):
        try:
            return read_labels(labels)
        except LabelsError as exc:
            raise ModelError(str(exc)) from None
    return [str(label) for label in labels]
