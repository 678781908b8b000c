"""Small real TFLite models made here with TensorFlow's converter (tests may import TensorFlow).

The model is a colour classifier whose weights are set by hand: the mean of each RGB channel,
times 10, minus 5. A red picture is "red", a green one "green", a blue one "blue", so every
precision and I/O type has a right answer the runtime must reproduce.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from edge_all import __version__
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import LABELS_FILE, MODEL_FILE, BundleManifest, scores_only, write_manifest
from edge_all.runtime.images import Preprocessing
from edge_all.runtime.labels import write_labels
from edge_all.runtime.tensors import TensorSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
COLOURS = ["red", "green", "blue"]
# A non-square input proves nothing assumes 224x224 or square images.
HEIGHT, WIDTH = 24, 40
SQUARE = 32  # the side of the square colour model


def colour_image(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A mostly pure-colour RGB uint8 picture with some noise, of COLOURS[index]."""
    rng = np.random.default_rng(index)
    pixels = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    pixels[:, :, index] = rng.integers(180, 256, size=(height, width), dtype=np.uint8)
    return pixels


@dataclass(frozen=True)
class TinyModels:
    """Paths of one colour classifier converted several ways."""

    float32: Path  # float I/O, softmax output
    float_logits: Path  # float I/O, no softmax
    uint8_io: Path  # full int8, uint8 input and output
    int8_io: Path  # full int8, int8 input and output
    labels: Path


def _keras_model(softmax: bool, height: int = HEIGHT, width: int = WIDTH):
    import keras

    inputs = keras.Input((height, width, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(3, activation="softmax" if softmax else None)
    outputs = dense(x)
    dense.set_weights([np.eye(3, dtype=np.float32) * 10, np.full(3, -5, dtype=np.float32)])
    return keras.Model(inputs, outputs)


def _convert(model, io_type=None) -> bytes:
    import tensorflow as tf

    _, height, width, _ = model.input_shape
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if io_type is not None:

        def representative():
            for i in range(30):
                yield [colour_image(i % 3, height, width)[None].astype(np.float32)]
            yield [np.zeros((1, height, width, 3), np.float32)]
            yield [np.full((1, height, width, 3), 255, np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type
    with warnings.catch_warnings():  # TensorFlow's own chatter about its converter's internals
        warnings.simplefilter("ignore", UserWarning)
        return converter.convert()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    import tensorflow as tf

    root = tmp_path_factory.mktemp("tiny-models")
    softmax_model = _keras_model(softmax=True)
    paths = {
        "float32": _convert(softmax_model),
        "float_logits": _convert(_keras_model(softmax=False)),
        "uint8_io": _convert(softmax_model, tf.uint8),
        "int8_io": _convert(softmax_model, tf.int8),
    }
    for name, content in paths.items():
        (root / f"{name}.tflite").write_bytes(content)
    write_labels(root / "labels.txt", COLOURS)
    return TinyModels(**{name: root / f"{name}.tflite" for name in paths}, labels=root / "labels.txt")


def make_bundle(model: Path, labels: list[str], out: Path, outputs: str = "probabilities") -> Path:
    """A bundle directory around a model, written with the contract's own manifest code."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    out.mkdir(parents=True)
    (out / MODEL_FILE).write_bytes(model.read_bytes())
    write_labels(out / LABELS_FILE, labels)
    manifest = BundleManifest(
        labels=labels,
        input=TensorSpec.from_details(interpreter.get_input_details()[0]),
        outputs=scores_only(TensorSpec.from_details(interpreter.get_output_details()[0]), outputs),
        preprocessing=Preprocessing(crop="center"),
        precision="int8" if interpreter.get_input_details()[0]["dtype"] != np.float32 else "float32",
        model_sha256=sha256_file(out / MODEL_FILE),
        model_bytes=(out / MODEL_FILE).stat().st_size,
        float_model_bytes=None,
        source_run=None,
        accuracy_check=None,
        created=datetime.now(timezone.utc).isoformat(),
        edge_all_version=__version__,
    )
    write_manifest(out, manifest)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_models) -> Path:
    """An int8 (uint8 I/O) bundle of the colour classifier."""
    return make_bundle(tiny_models.uint8_io, COLOURS, tmp_path_factory.mktemp("tiny-bundle") / "bundle")


@pytest.fixture(scope="session")
def square_bundle(tmp_path_factory) -> Path:
    """The colour classifier with a square input (like every bundle convert makes), int8 with uint8 I/O.

    A square model sees a 16:9 camera frame only after the centre crop, so what the crop removes
    decides its answer.
    """
    import tensorflow as tf

    root = tmp_path_factory.mktemp("square-model")
    model = root / "square.tflite"
    model.write_bytes(_convert(_keras_model(softmax=True, height=SQUARE, width=SQUARE), tf.uint8))
    return make_bundle(model, COLOURS, root / "bundle")


def write_bad_inputs(folder: Path) -> dict[str, str]:
    """Write every kind of bad input into `folder`; returns file name -> expected error fragment."""
    import io
    import struct
    import zlib

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(colour_image(0)).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("these are my notes, not a picture\n")
    (folder / "folder.jpg").mkdir(exist_ok=True)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A 69-byte PNG whose header claims 100000 x 100000 pixels: it would need 30 GB decoded.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    (folder / "bomb.png").write_bytes(bomb + chunk(b"IEND", b""))
    return {
        "truncated.jpg": "truncated",
        "empty.jpg": "empty file",
        "notes.jpg": "not an image",
        "folder.jpg": "is a directory",
        "bomb.png": "decompression bomb",
    }


def _gap_classifier():
    """The colour classifier, built the way training.models builds a network, with a GAP head.

    Its feature map is the picture itself (a 1x1 convolution that copies the three channels, scaled
    to 0-1), so a class activation map must light up exactly where that colour is in the picture.
    """
    import keras

    pixels = keras.Input((HEIGHT, HEIGHT, 3), name="pixels")
    scaled = keras.layers.Rescaling(1 / 255, name="colour_preprocess")(pixels)
    inner = keras.Input((HEIGHT, HEIGHT, 3))
    copy = keras.layers.Conv2D(3, 1, use_bias=False, name="copy")
    base = keras.Model(inner, copy(inner), name="colour_base")
    copy.set_weights([np.eye(3, dtype=np.float32)[None, None]])
    features = keras.Input((HEIGHT, HEIGHT, 3))
    dense = keras.layers.Dense(3, activation="softmax", name="predictions")
    head = keras.Model(
        features, dense(keras.layers.GlobalAveragePooling2D(name="gap")(features)), name="head"
    )
    dense.set_weights([np.eye(3, dtype=np.float32) * 10, np.full(3, -5, dtype=np.float32)])
    return keras.Model(pixels, head(base(scaled)), name="colour")


@pytest.fixture(scope="session")
def gap_bundle(tmp_path_factory) -> Path:
    """A format-2 bundle of the GAP-head colour classifier (float32): logits, features and feature map
    out, heat-map weights and a temperature of 2 in, written with the converter's own code."""
    from convert.publish import tensor_specs
    from convert.tflite import to_tflite
    from edge_all.runtime.bundle import HEATMAP_FILE, Calibration
    from edge_all.runtime.heatmaps import HeatmapWeights
    from training.models import export_model, heatmap_weights

    model = _gap_classifier()
    out = tmp_path_factory.mktemp("gap-bundle") / "bundle"
    out.mkdir()
    (out / MODEL_FILE).write_bytes(to_tflite(export_model(model), (HEIGHT, HEIGHT), "float32"))
    write_labels(out / LABELS_FILE, COLOURS)
    HeatmapWeights(*heatmap_weights(model)).save(out / HEATMAP_FILE)
    input_spec, outputs = tensor_specs(out / MODEL_FILE)
    manifest = BundleManifest(
        labels=COLOURS,
        input=input_spec,
        outputs=outputs,
        preprocessing=Preprocessing(crop="center"),
        precision="float32",
        model_sha256=sha256_file(out / MODEL_FILE),
        model_bytes=(out / MODEL_FILE).stat().st_size,
        float_model_bytes=None,
        source_run=None,
        accuracy_check=None,
        created=datetime.now(timezone.utc).isoformat(),
        edge_all_version=__version__,
        calibration=Calibration(2.0),
        heatmap_sha256=sha256_file(out / HEATMAP_FILE),
    )
    write_manifest(out, manifest)
    return out
