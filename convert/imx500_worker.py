"""Runs INSIDE Sony's converter environment (Edge-MDT: TensorFlow 2.15, Keras 2, numpy 1, MCT,
imxconv-tf), never in edge-all's: python imx500_worker.py WORK_DIR.

convert/imx500.py writes WORK_DIR/spec.json and the arrays (weights.npz, data.npz) from the trained
Keras 3 model; this script rebuilds the same network in tf.keras, checks that it computes what the
trained model computes, quantizes it with the Model Compression Toolkit for the IMX500, measures
the quantized model on the held-out images, exports it, runs imxconv-tf, and writes
WORK_DIR/result.json. Standard library, numpy and the converter's own packages only: edge-all is
not installed here.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

APPLICATIONS = {"resnet50": "ResNet50", "mobilenetv2": "MobileNetV2"}


def chain(specs: list[dict], name: str, input_shape: tuple[int, ...]) -> tf.keras.Model:
    """A straight chain of standard layers from their Keras 3 configs (arguments tf.keras knows)."""
    inputs = tf.keras.Input(input_shape)
    x = inputs
    for spec in specs:
        cls = getattr(tf.keras.layers, spec["class_name"])
        known = set(inspect.signature(cls.__init__).parameters) | {"name"}
        config = {k: v for k, v in spec["config"].items() if k in known and k != "dtype"}
        x = cls(**config)(x)
    return tf.keras.Model(inputs, x, name=name)


def build(spec: dict) -> tf.keras.Model:
    size = spec["image_size"]
    pixels = tf.keras.Input((size, size, 3), name="pixels")
    # The network's own input normalisation (an affine map of each pixel) as an exact 1x1
    # convolution: the IMX500 runs convolutions, not Keras preprocessing layers.
    x = tf.keras.layers.Conv2D(3, 1, name="pixel_affine")(pixels)
    if spec["base"]["kind"] == "application":
        factory = getattr(tf.keras.applications, APPLICATIONS[spec["base"]["backbone"]])
        base = factory(include_top=False, weights=None, input_shape=(size, size, 3))
    else:
        base = chain(spec["base"]["layers"], spec["base"]["name"], (size, size, 3))
    features = base(x)
    head = chain(spec["head"]["layers"], spec["head"]["name"], tuple(features.shape[1:]))
    return tf.keras.Model(pixels, head(features), name="edge_all_imx500")


def load_weights(model: tf.keras.Model, weights: dict[str, np.ndarray], affine: dict) -> None:
    """Every layer's weights by name (Keras 3 and tf.keras name an application's layers alike)."""
    used = set()
    for layer in _all_layers(model):
        if layer.name == "pixel_affine":
            matrix = np.asarray(affine["matrix"], np.float32)  # out x in
            layer.set_weights([matrix.T[None, None], np.asarray(affine["bias"], np.float32)])
            continue
        count = len(layer.get_weights())
        if not count:
            continue
        keys = [f"{layer.name}:{i}" for i in range(count)]
        missing = [key for key in keys if key not in weights]
        if missing:
            raise SystemExit(f"the trained model has no weights for layer {layer.name} ({missing[0]})")
        layer.set_weights([weights[key] for key in keys])
        used.update(keys)
    unused = sorted(set(weights) - used)
    if unused:
        raise SystemExit(f"weights of the trained model left unused: {', '.join(unused[:5])}")


def _all_layers(model: tf.keras.Model):
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def accuracy(model: tf.keras.Model, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    predicted = np.argmax(model.predict(images.astype(np.float32), batch_size=16, verbose=0), axis=1)
    return float(np.mean(predicted == labels)) if len(labels) else float("nan"), predicted


def main(work: Path) -> None:
    import model_compression_toolkit as mct

    spec = json.loads((work / "spec.json").read_text())
    weights = dict(np.load(work / "weights.npz"))
    data = np.load(work / "data.npz")
    model = build(spec)
    load_weights(model, weights, spec["affine"])

    # The rebuilt float model must compute what the trained one does, or nothing else means anything.
    rebuilt = model.predict(data["check_images"].astype(np.float32), verbose=0)
    difference = float(np.max(np.abs(rebuilt - data["check_outputs"])))
    if difference > 1e-3:
        raise SystemExit(f"the rebuilt model differs from the trained one (max difference {difference:.2g})")

    calibration = data["calibration"].astype(np.float32)

    def representative():
        for start in range(0, len(calibration), 8):
            yield [calibration[start : start + 8]]

    tpc = mct.get_target_platform_capabilities("tensorflow", "imx500", target_platform_version="v1")
    quantized, _ = mct.ptq.keras_post_training_quantization(
        model, representative, target_platform_capabilities=tpc
    )
    float_accuracy, float_predicted = accuracy(model, data["eval_images"], data["eval_labels"])
    quantized_accuracy, quantized_predicted = accuracy(quantized, data["eval_images"], data["eval_labels"])

    exported = work / "quantized.keras"
    mct.exporter.keras_export_model(model=quantized, save_model_path=str(exported))
    converter = Path(sys.executable).with_name("imxconv-tf")
    out = work / "imxconv"
    done = subprocess.run(
        [str(converter), "-i", str(exported), "-o", str(out), "--overwrite-output"],
        capture_output=True,
        text=True,
    )
    (work / "imxconv.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0 or not (out / "packerOut.zip").is_file():
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line]
        raise SystemExit(f"imxconv-tf failed: {(errors or ['exit status ' + str(done.returncode)])[-1]}")
    reports = sorted(out.glob("*MemoryReport.json"))
    result = {
        "rebuilt_max_difference": difference,
        "float_accuracy": float_accuracy,
        "quantized_accuracy": quantized_accuracy,
        "agreement": float(np.mean(float_predicted == quantized_predicted)) if len(float_predicted) else None,
        "eval_images": int(len(data["eval_labels"])),
        "calibration_images": int(len(calibration)),
        "memory_report": json.loads(reports[0].read_text()).get("Memory Report") if reports else None,
        "versions": {
            "tensorflow": tf.__version__,
            "model_compression_toolkit": mct.__version__,
            "imx500_converter": _version("imx500-converter"),
            "edge_mdt": _version("edge-mdt"),
        },
    }
    (work / "result.json").write_text(json.dumps(result, indent=2))


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main(Path(sys.argv[1]))
