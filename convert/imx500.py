"""The Raspberry Pi AI Camera (Sony IMX500) target: a run's float model -> packerOut.zip.

Sony's converter (Edge-MDT: the Model Compression Toolkit and imxconv-tf) needs TensorFlow 2.14-2.15,
Keras 2 and numpy 1, which cannot share an environment with edge-all's training (TensorFlow 2.21,
Keras 3, numpy 2). So it runs in its own virtual environment, named by $EDGE_ALL_IMX500_PYTHON, and
this module hands it the model as plain data: the layers' configurations and weights, the network's
input normalisation as an exact affine map (it becomes a 1x1 convolution: the IMX500 runs no Keras
preprocessing layers), calibration images from the training split, and held-out images with labels.
convert/imx500_worker.py rebuilds the network there, checks it computes what the trained model
does, quantizes it for the IMX500, measures it, and runs imxconv-tf.

The output directory holds packerOut.zip, the converter's memory report and dnnParams.xml, and
imx500.json (labels, input, sha256 of packerOut.zip, source run, the accuracy check, versions).
The last step, `imx500-package -i packerOut.zip -o DIR` (network.rpk), must run on a Raspberry Pi
(Raspberry Pi's documentation), and edge-all has no IMX500 runtime backend yet: both untested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from convert.calibration import load_calibration
from convert.errors import AccuracyGateFailed, ConvertError
from convert.source import load_float_model, model_input_size, open_source
from edge_all import __version__
from edge_all.digest import sha256_file
from edge_all.runtime.images import ImageError, prepare

PYTHON_ENV = "EDGE_ALL_IMX500_PYTHON"
WORKER = Path(__file__).with_name("imx500_worker.py")
SETUP_HINT = (
    "the imx500 target needs Sony's converter in its own Python 3.11 environment (it needs TensorFlow "
    "2.15 and numpy 1): python3.11 -m venv ~/imx500-venv && ~/imx500-venv/bin/pip install "
    f"'edge-mdt[tf]', then {PYTHON_ENV}=~/imx500-venv/bin/python"
)
PACKAGE = "packerOut.zip"
NEXT_STEP = f"sudo apt install imx500-tools; imx500-package -i {PACKAGE} -o DIR (writes network.rpk)"
MANIFEST = "imx500.json"
CHECK_IMAGES = 8  # images on which the rebuilt network must match the trained one
TIMEOUT_S = 3600


@dataclass(frozen=True)
class Imx500Result:
    out: Path
    report: dict[str, Any]  # what imx500.json records

    def summary(self) -> str:
        """The line `edge-all convert --target imx500` prints: accuracy, and whether it fits the sensor."""
        check = self.report["accuracy_check"]
        memory = self.report["memory_report"] or {}
        return (
            f"IMX500: test accuracy {100 * check['float_accuracy']:.1f} % float, "
            f"{100 * check['quantized_accuracy']:.1f} % quantized ({check['images']} images); "
            f"fits in the sensor's memory: {memory.get('Fit In Chip', 'unknown')} "
            f"({memory.get('Memory Utilization', '?')})"
        )


def converter_python() -> Path:
    """The converter environment's python, or a ConvertError saying how to make one."""
    value = os.environ.get(PYTHON_ENV)
    if not value:
        raise ConvertError(f"{PYTHON_ENV} is not set; {SETUP_HINT}")
    path = Path(value).expanduser()
    if not path.is_file() or not path.with_name("imxconv-tf").is_file():
        raise ConvertError(f"{path}: no python with imxconv-tf beside it; {SETUP_HINT}")
    return path


def convert_imx500(
    run_dir: Path,
    out: Path,
    calibration_samples: int = 200,
    max_drop: float = 1.0,
    force: bool = False,
    show_progress: bool = True,
) -> Imx500Result:
    """Convert RUN_DIR's model for the IMX500 into OUT; refused when it loses more than `max_drop` points."""
    python = converter_python()
    if out.exists() and not force:
        raise ConvertError(f"{out}: already exists (use --force to replace it)")
    source = open_source(run_dir, ("train", "test"))
    model = load_float_model(source)
    size = model_input_size(model)
    spec, weights = describe(model, size)
    calibration = load_calibration(
        source.split, calibration_samples, size, source.preprocessing, show_progress
    )
    eval_images, eval_labels = _test_images(source, size)
    check = calibration.pixels[:CHECK_IMAGES].astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="edge-all-imx500-") as scratch:
        work = Path(scratch)
        (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        np.savez(work / "weights.npz", **weights)
        np.savez(
            work / "data.npz",
            calibration=calibration.pixels,
            check_images=check,
            check_outputs=model.predict(check, verbose=0),
            eval_images=eval_images,
            eval_labels=eval_labels,
        )
        try:
            done = subprocess.run(
                [str(python), str(WORKER), str(work)], capture_output=True, text=True, timeout=TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConvertError(f"{python}: the IMX500 converter could not run ({exc})") from None
        if done.returncode != 0 or not (work / "result.json").is_file():
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise ConvertError(f"IMX500 conversion of {source.model_path} failed: {reason}")
        result = json.loads((work / "result.json").read_text(encoding="utf-8"))
        drop = 100.0 * (result["float_accuracy"] - result["quantized_accuracy"])
        report = {
            "target": "imx500",
            "labels": source.labels,
            "input": {
                "shape": [size[0], size[1], 3],
                "pixels": "raw RGB 0-255, normalised inside the network",
            },
            "preprocessing": source.preprocessing.to_dict(),
            "source_run": str(source.run_dir),
            "package": PACKAGE,
            "accuracy_check": {
                "eval_set": "test split",
                "images": result["eval_images"],
                "float_accuracy": result["float_accuracy"],
                "quantized_accuracy": result["quantized_accuracy"],
                "drop_points": drop,
                "max_drop_points": max_drop,
                "agreement": result["agreement"],
                "measured_on": "MCT's quantized Keras model in the converter environment, not the sensor",
            },
            "memory_report": result["memory_report"],
            "rebuilt_max_difference": result["rebuilt_max_difference"],
            "calibration_images": result["calibration_images"],
            "converter": result["versions"],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "edge_all_version": __version__,
            "next_step": NEXT_STEP,
        }
        if drop > max_drop:
            raise AccuracyGateFailed(
                f"IMX500 model loses {drop:.1f} points of accuracy on the test split "
                f"({100 * result['float_accuracy']:.1f} % -> {100 * result['quantized_accuracy']:.1f} %, "
                f"allowed {max_drop:g}); nothing written to {out}"
            )
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        produced = work / "imxconv"
        for item in sorted(produced.iterdir()):
            if item.is_file():
                shutil.copy2(item, out / item.name)
        shutil.copy2(work / "imxconv.log", out / "imxconv.log")
    report["package_sha256"] = sha256_file(out / PACKAGE)
    (out / MANIFEST).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return Imx500Result(out, report)


def describe(model: Any, size: tuple[int, int]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The trained model as data the converter environment rebuilds: (spec, weights by 'layer:index').

    Training's models are pixels -> an affine preprocessing layer -> a backbone -> a head; anything
    else is refused, naming what was found.
    """
    import keras

    steps = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    nested = [layer for layer in steps if isinstance(layer, keras.Model)]
    if len(steps) != 3 or len(nested) != 2 or steps[1:] != nested or len(model.outputs) != 1:
        found = ", ".join(f"{type(layer).__name__} {layer.name}" for layer in steps)
        raise ConvertError(
            f"the IMX500 target expects preprocessing, backbone, head; this model has: {found}"
        )
    preprocess, base, head = steps
    spec = {
        "image_size": size[0],
        "affine": affine_of(preprocess),
        "base": _base_spec(base),
        "head": {"name": head.name, "layers": _chain(head)},
    }
    weights: dict[str, np.ndarray] = {}
    for part in (base, head):
        for layer in part.layers:
            for index, array in enumerate(layer.get_weights()):
                weights[f"{layer.name}:{index}"] = np.asarray(array)
    return spec, weights


def affine_of(layer: Any) -> dict[str, list]:
    """The preprocessing layer as y = matrix @ pixel + bias, checked to be exactly that."""
    probes = np.zeros((4, 1, 1, 3), np.float32)
    probes[1:, 0, 0] = np.eye(3, dtype=np.float32)
    outputs = np.asarray(layer(probes)).reshape(4, -1)
    if outputs.shape[1] != 3:
        raise ConvertError(f"preprocessing layer {layer.name} does not map RGB pixels to 3 channels")
    bias = outputs[0]
    matrix = (outputs[1:] - bias).T  # out x in
    pixels = np.random.default_rng(0).uniform(0, 255, (8, 2, 2, 3)).astype(np.float32)
    expected = pixels @ matrix.T + bias
    if not np.allclose(np.asarray(layer(pixels)), expected, atol=1e-3):
        raise ConvertError(f"preprocessing layer {layer.name} is not an affine map of each pixel")
    return {"matrix": matrix.tolist(), "bias": bias.tolist()}


def _base_spec(base: Any) -> dict[str, Any]:
    name = base.name.lower()
    for backbone in ("resnet50", "mobilenetv2"):
        if name.startswith(backbone) or name.replace("_", "").startswith(backbone):
            return {"kind": "application", "backbone": backbone}
    return {"kind": "chain", "name": base.name, "layers": _chain(base)}


def _chain(model: Any) -> list[dict[str, Any]]:
    """A model's layers in order, as class name and config, refusing anything that is not a chain."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for earlier, later in zip(layers, layers[1:], strict=False):
        if later.input is not earlier.output:
            raise ConvertError(f"{model.name}: not a plain chain of layers at {later.name}")
    return [{"class_name": type(layer).__name__, "config": _plain_config(layer)} for layer in layers]


def _plain_config(layer: Any) -> dict[str, Any]:
    """A layer's config with only JSON values tf.keras takes (no Keras 3 dtype policies or objects)."""
    return {
        key: value
        for key, value in layer.get_config().items()
        if isinstance(value, (str, int, float, bool, list, tuple)) or value is None
    }


def _test_images(source: Any, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for record in source.split.part("test"):
        try:
            images.append(prepare(source.split.path(record), size[0], size[1], source.preprocessing))
        except ImageError:
            continue
        labels.append(source.labels.index(record.label))
    if not images:
        raise ConvertError(f"{source.run_dir}: no readable test images to check the IMX500 model on")
    return np.stack(images), np.asarray(labels, np.int64)
