"""`edge-all convert --target imx500`: the trained model as data for Sony's converter, and a real
conversion when that converter is installed.

Sony's converter (Edge-MDT) needs TensorFlow 2.15 and numpy 1, so it lives in its own virtual
environment, named by $EDGE_ALL_IMX500_PYTHON (convert/imx500.py). The conversion test runs it for
real and is skipped only when no such environment is given; the rest runs everywhere.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from convert.errors import ConvertError
from convert.imx500 import MANIFEST, PACKAGE, PYTHON_ENV, affine_of, convert_imx500, describe
from edge_all.digest import sha256_file


def _converter_installed() -> bool:
    python = os.environ.get(PYTHON_ENV)
    return bool(python) and Path(python).expanduser().with_name("imxconv-tf").is_file()


def test_the_trained_model_is_described_as_data_the_converter_rebuilds(trained_run):
    from training.models import load_model

    model = load_model(trained_run / "model.keras")
    spec, weights = describe(model, (64, 64))
    assert spec["image_size"] == 64
    assert spec["base"]["kind"] == "chain"  # the tiny test backbone; ResNet50/MobileNetV2 are applications
    assert [layer["class_name"] for layer in spec["base"]["layers"]][:4] == [
        "Conv2D",
        "BatchNormalization",
        "ReLU",
        "MaxPooling2D",
    ]
    assert spec["head"]["layers"][-1]["class_name"] == "Dense"
    assert all("dtype" not in layer["config"] for layer in spec["base"]["layers"])  # no Keras 3 policies
    json.dumps(spec)  # plain data only
    # Every weight of the trained model goes over, by layer name.
    count = sum(len(layer.get_weights()) for part in model.layers[2:] for layer in part.layers)
    assert len(weights) == count and weights["predictions:0"].shape[1] == 4
    # tiny's preprocessing is x / 255: the exact affine map the converter turns into a 1x1 convolution.
    assert np.allclose(spec["affine"]["matrix"], np.eye(3) / 255.0) and np.allclose(spec["affine"]["bias"], 0)


def test_each_backbones_preprocessing_is_an_exact_affine_map():
    import keras

    from training.layers import IMAGENET_BGR_MEAN, preprocessing_layer

    caffe = affine_of(preprocessing_layer("resnet50"))  # RGB -> BGR, minus the ImageNet means
    assert np.allclose(caffe["matrix"], np.eye(3)[::-1]) and np.allclose(
        caffe["bias"], [-m for m in IMAGENET_BGR_MEAN]
    )
    mobilenet = affine_of(preprocessing_layer("mobilenetv2"))  # [-1, 1]
    assert np.allclose(mobilenet["matrix"], np.eye(3) / 127.5) and np.allclose(mobilenet["bias"], -1.0)
    with pytest.raises(ConvertError, match="is not an affine map of each pixel"):
        affine_of(keras.layers.Lambda(lambda x: x * x, name="square"))


def test_without_the_converter_it_says_how_to_install_it(trained_run, tmp_path, monkeypatch):
    monkeypatch.delenv(PYTHON_ENV, raising=False)
    with pytest.raises(
        ConvertError, match=r"EDGE_ALL_IMX500_PYTHON is not set; .*pip install 'edge-mdt\[tf\]'"
    ):
        convert_imx500(trained_run, tmp_path / "imx500")
    monkeypatch.setenv(PYTHON_ENV, str(tmp_path / "no-venv" / "bin" / "python"))
    with pytest.raises(ConvertError, match="no python with imxconv-tf beside it"):
        convert_imx500(trained_run, tmp_path / "imx500")


def test_tflite_options_are_refused_for_the_imx500_target(trained_run, edge_all_cli, error_lines):
    done = edge_all_cli("convert", trained_run, "--target", "imx500", "--float16", "--edgetpu")
    assert done.returncode == 2
    assert error_lines(done.stderr) == ["error: --float16 and --edgetpu apply to --target tflite only"]
    done = edge_all_cli("convert", trained_run, "--target", "hailo")
    assert done.returncode == 2 and "unknown target 'hailo' (choose from tflite, imx500)" in done.stderr


@pytest.mark.skipif(
    not _converter_installed(), reason=f"Sony's IMX500 converter is not installed ({PYTHON_ENV})"
)
def test_a_real_imx500_conversion(trained_run, tmp_path):
    out = tmp_path / "imx500"
    result = convert_imx500(trained_run, out, calibration_samples=40, show_progress=False)
    report = json.loads((out / MANIFEST).read_text())
    assert report == json.loads(json.dumps(result.report))
    assert report["package_sha256"] == sha256_file(out / PACKAGE)
    with zipfile.ZipFile(out / PACKAGE) as package:  # what imx500-package takes on the Pi
        assert {"dnnParams.xml", "manifest.json"} <= set(package.namelist())
    assert report["rebuilt_max_difference"] < 1e-3  # the rebuilt network computes what the trained one does
    check = report["accuracy_check"]
    assert check["images"] > 0 and check["drop_points"] <= check["max_drop_points"]
    assert report["memory_report"]["Fit In Chip"] is True
    assert report["labels"] == ["Benign", "Early", "Pre", "Pro"] and report["input"]["shape"] == [64, 64, 3]
    assert report["converter"]["imx500_converter"] and report["converter"]["tensorflow"].startswith("2.1")
