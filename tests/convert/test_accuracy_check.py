"""The check's numbers, recomputed without convert's code: Keras predict and a bare LiteRT interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.runtime.bundle import MODEL_FILE, read_manifest
from edge_all.runtime.images import prepare
from training.dataset import CLASSES, read_split


@pytest.fixture(scope="module")
def independent(trained_run, int8_bundle):
    """Float and int8 probabilities for every test image, computed from scratch."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    import training.layers  # noqa: F401  the custom preprocessing layer, before loading

    split = read_split(trained_run / "split.json")
    records = split.part("test")
    manifest = read_manifest(int8_bundle)
    pixels = np.stack([prepare(split.path(r), 64, 64, manifest.preprocessing) for r in records])
    truth = np.array([CLASSES.index(r.label) for r in records])

    model = keras.saving.load_model(trained_run / "model.keras", compile=False)
    float_probs = np.asarray(model.predict(pixels.astype(np.float32), verbose=0), dtype=np.float64)

    interpreter = Interpreter(model_path=str(int8_bundle / MODEL_FILE), num_threads=1)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = [d for d in interpreter.get_output_details() if d["name"] == manifest.scores.name]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    int8_logits = []
    for image in pixels:
        quantized = np.clip(np.round(image / in_scale + in_zero), 0, 255).astype(np.uint8)
        interpreter.set_tensor(inp["index"], quantized[None])
        interpreter.invoke()
        raw = interpreter.get_tensor(out["index"])[0].astype(np.float64)
        int8_logits.append((raw - out_zero) * out_scale)
    temperature = manifest.calibration.temperature

    def calibrated(logits: np.ndarray) -> np.ndarray:  # softmax(logits / T), the bundle's calibration
        scaled = np.exp(logits / temperature - (logits / temperature).max(axis=1, keepdims=True))
        return scaled / scaled.sum(axis=1, keepdims=True)

    return {
        "files": [r.file for r in records],
        "truth": truth,
        "float": calibrated(np.log(np.clip(float_probs, 1e-12, 1))),  # both at the bundle's temperature
        "int8": calibrated(np.array(int8_logits)),
        "check": manifest.accuracy_check,
    }


def _recall(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {label: float(np.mean(predicted[truth == i] == i)) for i, label in enumerate(CLASSES)}


def test_check_covers_the_test_split(independent):
    check = independent["check"]
    assert check["images"] == len(independent["files"])
    assert [p["file"] for p in check["predictions"]] == independent["files"]
    assert check["support"] == {
        label: int(np.sum(independent["truth"] == i)) for i, label in enumerate(CLASSES)
    }
    assert check["skipped"] == []


def test_float_numbers_match_keras(independent):
    check, truth = independent["check"], independent["truth"]
    predicted = independent["float"].argmax(axis=1)
    assert check["float_model"]["accuracy"] == pytest.approx(np.mean(predicted == truth))
    assert check["float_model"]["per_class_recall"] == pytest.approx(_recall(truth, predicted))
    assert [p["float"] for p in check["predictions"]] == [CLASSES[i] for i in predicted]


def test_int8_numbers_match_a_bare_interpreter(independent):
    check, truth = independent["check"], independent["truth"]
    float_top = independent["float"].argmax(axis=1)
    int8_top = independent["int8"].argmax(axis=1)
    assert check["converted"]["accuracy"] == pytest.approx(np.mean(int8_top == truth))
    assert check["converted"]["per_class_recall"] == pytest.approx(_recall(truth, int8_top))
    assert [p["converted"] for p in check["predictions"]] == [CLASSES[i] for i in int8_top]
    assert check["top1_agreement"] == pytest.approx(np.mean(int8_top == float_top))
    assert check["changed"] == {
        "images": int(np.sum(int8_top != float_top)),
        "became_right": int(np.sum((float_top != truth) & (int8_top == truth))),
        "became_wrong": int(np.sum((float_top == truth) & (int8_top != truth))),
    }
    expected_drop = 100 * (np.mean(float_top == truth) - np.mean(int8_top == truth))
    assert check["drop_pp"] == pytest.approx(expected_drop)
    mad = np.mean(np.abs(independent["float"] - independent["int8"]))
    assert check["mean_abs_prob_diff"] == pytest.approx(mad, abs=1e-6)
    # The int8 model is a faithful copy, not a different model: probabilities stay close.
    assert mad < 0.05
