"""The published bundles: really integer, small, self-describing, tamper-evident, and what the check ran."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convert.publish import REPORT_FILE
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import (
    HEATMAP_FILE,
    LABELS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    REFERRAL_FILE,
    BundleError,
    read_manifest,
)
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import Preprocessing
from training.dataset import CLASSES

WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def _interpreter(path: Path):
    """The model's own graph, with no delegate rewriting it (what is inspected is what was converted)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    interpreter.allocate_tensors()
    return interpreter


def _weights_and_biases(interpreter) -> tuple[list[dict], list[dict]]:
    """Tensor details of the kernels and biases of every conv / fully connected op."""
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    weights, biases = [], []
    for op in interpreter._get_ops_details():  # LiteRT's only listing of which tensor feeds which op
        if op["op_name"] in WEIGHT_OPS:
            inputs = [i for i in op["inputs"] if i >= 0]
            weights.append(tensors[inputs[1]])
            if len(inputs) > 2:
                biases.append(tensors[inputs[2]])
    return weights, biases


def test_int8_model_is_integer_end_to_end(int8_bundle):
    interpreter = _interpreter(int8_bundle / MODEL_FILE)
    (inp,), outs = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.uint8 and [out["dtype"] for out in outs] == [np.uint8] * 3
    assert tuple(inp["shape"]) == (1, 64, 64, 3)  # batch 1, fixed shape: what the Edge TPU needs
    assert tuple(inp["shape_signature"]) == (1, 64, 64, 3)
    assert inp["quantization"][0] > 0 and all(out["quantization"][0] > 0 for out in outs)
    weights, biases = _weights_and_biases(interpreter)
    assert len(weights) >= 4  # three convolutions and the dense layer of the tiny network
    assert all(t["dtype"] == np.int8 for t in weights), [(t["name"], t["dtype"]) for t in weights]
    assert all(t["dtype"] == np.int32 for t in biases)
    floats = [t["name"] for t in interpreter.get_tensor_details() if t["dtype"] in (np.float32, np.float16)]
    assert floats == []  # no float activation or weight anywhere
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "DEQUANTIZE" not in ops  # nothing falls back to float between the integer ops


def test_int8_weights_are_a_quarter_of_float32(int8_bundle, float32_bundle):
    int8_weights, _ = _weights_and_biases(_interpreter(int8_bundle / MODEL_FILE))
    float_weights, _ = _weights_and_biases(_interpreter(float32_bundle / MODEL_FILE))
    int8_bytes = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in int8_weights)
    float_bytes = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in float_weights)
    assert int8_bytes / float_bytes < 0.30
    int8_file = (int8_bundle / MODEL_FILE).stat().st_size
    float_file = (float32_bundle / MODEL_FILE).stat().st_size
    # Every .tflite also carries tensor names and per-channel quantization parameters that do not
    # shrink; the tiny backbone is wide enough (about 95k weights) for the file to stay under 30%.
    assert int8_file / float_file < 0.30
    manifest = read_manifest(int8_bundle)
    assert manifest.model_bytes == int8_file
    assert manifest.float_model_bytes == float_file  # float size = the float32 TFLite conversion


def test_manifest_describes_the_int8_bundle(int8_bundle, trained_run):
    manifest = read_manifest(int8_bundle)
    assert manifest.precision == "int8"
    assert manifest.labels == list(CLASSES)
    assert (int8_bundle / LABELS_FILE).read_text().split() == list(CLASSES)
    assert manifest.model_sha256 == sha256_file(int8_bundle / MODEL_FILE)
    assert manifest.input.shape == (1, 64, 64, 3) and manifest.input.dtype == "uint8"
    # Calibration anchors the input to the whole pixel range: raw uint8 pixels go in unchanged.
    assert manifest.input.quantization.scale == pytest.approx(1.0, abs=1e-5)
    assert manifest.input.quantization.zero_point == 0
    scores = manifest.scores
    assert scores.kind == "logits" and scores.spec.quantization is not None  # softmax is the runtime's
    assert scores.spec.shape == (1, len(CLASSES)) and scores.spec.dtype == "uint8"
    features, feature_map = manifest.outputs["features"], manifest.outputs["feature_map"]
    assert features.spec.shape == (1, 128) and feature_map.spec.shape == (1, 8, 8, 128)  # the tiny net
    assert manifest.preprocessing == Preprocessing(color_order="RGB", resize="bilinear", crop="center")
    assert manifest.trained_on.synthetic and manifest.trained_on.images["train"] > 0
    assert manifest.referral.sha256 == sha256_file(int8_bundle / REFERRAL_FILE)
    assert manifest.heatmap_sha256 == sha256_file(int8_bundle / HEATMAP_FILE)
    assert 0.05 <= manifest.calibration.temperature <= 20 and manifest.confidence_threshold == 0.6
    assert Path(manifest.source_run) == trained_run.resolve()
    assert manifest.created and manifest.edge_all_version
    check = manifest.accuracy_check
    assert check is not None and check["passed"] is True
    assert check["conversion"]["calibration"]["source"] == "train split"
    assert check["conversion"]["seconds"] > 0
    # The published report and the manifest's copy are the same document.
    assert json.loads((int8_bundle / REPORT_FILE).read_text()) == check
    assert not list(int8_bundle.parent.glob(".*"))  # no staging leftovers beside the bundle


def test_calibration_used_training_images_of_every_class(int8_bundle, trained_run):
    from training.dataset import read_split

    split = read_split(trained_run / "split.json")
    calibration = read_manifest(int8_bundle).accuracy_check["conversion"]["calibration"]
    train_counts = split.counts()["train"]
    assert calibration["samples"] == min(200, sum(train_counts.values()))
    assert calibration["per_class"] == {label: train_counts[label] for label in CLASSES}
    train_files = {r.file for r in split.part("train")}
    assert set(calibration["files"]) == train_files  # all of them here (fewer than 200), nothing else


def test_float32_bundle_matches_the_keras_model(float32_bundle):
    manifest = read_manifest(float32_bundle)
    assert manifest.precision == "float32"
    assert manifest.input.dtype == "float32" and manifest.input.quantization is None
    check = manifest.accuracy_check
    assert check["top1_agreement"] == 1.0
    assert check["mean_abs_prob_diff"] < 1e-4
    assert check["drop_pp"] == 0.0


@pytest.mark.parametrize("damage", ["model_byte", "labels", "manifest_sha"])
def test_damaged_bundle_is_refused(int8_bundle, tmp_path, damage):
    from edge_all.runtime.classifier import ModelError

    bundle = tmp_path / "bundle"
    shutil.copytree(int8_bundle, bundle)
    read_manifest(bundle)  # the intact copy is fine
    if damage == "model_byte":
        data = bytearray((bundle / MODEL_FILE).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (bundle / MODEL_FILE).write_bytes(bytes(data))
        expected = "does not match"
    elif damage == "labels":
        (bundle / LABELS_FILE).write_text("Benign\nEarly\nPro\nPre\n")
        expected = "labels differ"
    else:
        manifest = json.loads((bundle / MANIFEST_FILE).read_text())
        manifest["model_sha256"] = "0" * 64
        (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
        expected = "does not match"
    with pytest.raises(BundleError, match=expected):
        read_manifest(bundle)
    with pytest.raises((BundleError, ModelError)):
        Classifier.load(bundle)


def test_bundle_round_trips_through_the_classifier(int8_bundle):
    """The device, loading the published bundle, predicts exactly what the check recorded."""
    manifest = read_manifest(int8_bundle)
    check = manifest.accuracy_check
    classifier = Classifier.load(int8_bundle, threads=1)
    assert classifier.labels == list(CLASSES)
    assert classifier.input_size == (64, 64)
    root = Path(check["eval_root"])
    assert len(check["predictions"]) == check["images"] > 0
    for row in check["predictions"]:
        prediction = classifier.predict(root / row["file"])
        assert prediction.label == row["converted"], row["file"]
        assert prediction.confidence == pytest.approx(row["converted_confidence"], abs=1e-6)


def test_the_table_puts_float_and_converted_side_by_side(int8_bundle):
    from convert.table import format_report

    check = read_manifest(int8_bundle).accuracy_check
    table = format_report(check)
    header = table.splitlines()[1]
    assert "float32 Keras" in header and "int8 TFLite" in header and "change" in header
    for label in CLASSES:
        assert f"recall {label} (n={check['support'][label]})" in table
    assert "% of float32" in table and "gate PASSED" in table
    assert "no patient ids" in table  # the caveat travels with every table
