"""The accuracy gate at its default (1 percentage point) and at the boundary.

`compare` is fed constructed probabilities, so the drop is known exactly; a real conversion of a
model built to lose a known number of images shows the default gate refusing what a looser one would
publish.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convert.accuracy import EvalItem, compare
from convert.config import ConvertConfig
from convert.publish import failed_report_path
from edge_all.runtime.bundle import read_manifest
from tests.cli_runner import run_edge_all

LABELS = ["Benign", "Early", "Pre", "Pro"]
DEFAULT_MAX_DROP = 1.0  # percentage points: what the project promises a converted model may lose


def outcome(images: int, float_wrong: int, converted_wrong: int, max_drop: float):
    """compare() on `images` images of which each model gets exactly the given number wrong."""
    truth = np.arange(images) % len(LABELS)
    items = [EvalItem(f"{LABELS[t]}/{i}.png", Path(f"{i}.png"), LABELS[t]) for i, t in enumerate(truth)]

    def probabilities(wrong: int) -> np.ndarray:
        predicted = truth.copy()
        predicted[:wrong] = (truth[:wrong] + 1) % len(LABELS)  # the first `wrong` images go to the next class
        probs = np.full((images, len(LABELS)), 0.1)
        probs[np.arange(images), predicted] = 0.7
        return probs

    return compare(
        LABELS,
        items,
        probabilities(float_wrong),
        probabilities(converted_wrong),
        max_drop,
        ("float", "int8"),
        "constructed",
        Path("."),
    )


def test_the_default_is_one_point():
    assert ConvertConfig(run_dir="run").max_drop == DEFAULT_MAX_DROP


def test_the_cli_default_is_one_point():
    done = run_edge_all("convert", "--help", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.lstrip("│ ").startswith("--max-drop")]
    assert "[default: 1.0]" in line, line


@pytest.mark.parametrize(
    ("images", "float_wrong", "converted_wrong", "drop", "passed"),
    [
        (100, 0, 1, 1.0, True),  # exactly at the default: published
        (200, 10, 12, 1.0, True),  # 2 of 200 is exactly 1 point too
        (99, 0, 1, 100 / 99, False),  # one image of 99 is 1.0101 points: just above, refused
        (100, 0, 2, 2.0, False),
        (100, 3, 9, 6.0, False),  # what a gate five points looser would let through
        (100, 5, 3, -2.0, True),  # the converted model did better
        (100, 4, 4, 0.0, True),
    ],
)
def test_the_default_gate_at_and_around_its_boundary(images, float_wrong, converted_wrong, drop, passed):
    report = outcome(images, float_wrong, converted_wrong, DEFAULT_MAX_DROP)
    assert report.drop_pp == pytest.approx(drop, abs=1e-6)  # recorded to 6 decimals
    assert report.float_model.correct == images - float_wrong
    assert report.converted.correct == images - converted_wrong
    assert report.max_drop_pp == DEFAULT_MAX_DROP
    assert report.passed is passed


@pytest.mark.parametrize("max_drop", [0.0, 2.5, 5.0])
def test_any_limit_passes_a_drop_equal_to_it_and_refuses_one_image_more(max_drop):
    images = 200  # one image is half a point
    lost = round(max_drop * images / 100)
    assert outcome(images, 0, lost, max_drop).passed
    assert not outcome(images, 0, lost + 1, max_drop).passed


# ---- a real conversion at the default ------------------------------------------------------------

# The gate model: "Pre" when the picture's mean red is above 0.5, "Pro" when its mean green is,
# "Early" when its mean blue is above EARLY_BLUE, else "Benign". The demo smears the run calibrates on
# have channel means of at most about 0.9, so the int8 model's pooled-colour tensor saturates near
# there: a picture of pure blue (mean 1.0) is Early to the float model and Benign to the int8 one.
# Every other picture stays well inside the calibrated range, and both models agree on it.
EARLY_BLUE = 0.95
COLOURS = {  # class -> (R, G, B) of its pictures
    "Benign": (77, 77, 153),
    "Pre": (178, 77, 77),
    "Pro": (77, 166, 77),
    "Early": (0, 0, 255),  # saturates the int8 model
}


def gate_model(size: int):
    """The decision above, shaped as edge-all's classifiers are (preprocessing, backbone, head), so
    convert exports it like any trained run: the 'backbone' passes the rescaled pixels through."""
    import keras

    pixels = keras.Input((size, size, 3), name="pixels")
    rescaled = keras.layers.Rescaling(1 / 255, name="tiny_preprocess")(pixels)
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(3, 1, use_bias=False, name="identity")
    base = keras.Model(inputs, conv(inputs), name="tiny")
    conv.set_weights([np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3)])
    features = keras.Input((size, size, 3))
    dense = keras.layers.Dense(len(LABELS), activation="softmax", name="predictions")
    head = keras.Model(
        features, dense(keras.layers.GlobalAveragePooling2D(name="gap")(features)), name="head"
    )
    weights = np.zeros((3, len(LABELS)), np.float32)
    weights[2, 1] = weights[0, 2] = weights[1, 3] = 40.0  # Early: blue, Pre: red, Pro: green
    bias = np.array([0.0, -40.0 * EARLY_BLUE, -20.0, -20.0], np.float32)
    dense.set_weights([weights, bias])
    return keras.Model(pixels, head(base(rescaled)), name="edge_all_gate")


def labelled_folder(root: Path, size: int, counts: dict[str, int]) -> Path:
    """Class folders holding `counts[label]` flat pictures of that class's colour, each byte-distinct."""
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for i in range(counts[label]):
            pixels = np.full((size, size, 3), COLOURS[label], np.uint8)
            pixels[0, 0, 0] = i  # the check counts identical files once
            Image.fromarray(pixels).save(root / label / f"{label.lower()}-{i:03d}.png")
    return root


def test_a_real_conversion_that_loses_a_known_share_fails_the_default_gate(run_copy, tmp_path):
    from convert.convert import convert_run

    gate_model(64).save(run_copy / "model.keras")
    data = labelled_folder(tmp_path / "check", 64, {"Benign": 36, "Early": 1, "Pre": 1, "Pro": 2})
    target = tmp_path / "bundle"
    result = convert_run(ConvertConfig(run_dir=run_copy, out=target, data=data, calibration_samples=32))
    report = result.report
    # 40 distinct images; the float model gets all right, the int8 model loses the one pure-blue picture.
    assert report["images"] == 40 and report["float_model"]["correct"] == 40
    assert report["converted"]["correct"] == 39
    assert [p["file"] for p in report["predictions"] if p["converted"] != p["label"]] == [
        "Early/early-000.png"
    ]
    assert report["drop_pp"] == pytest.approx(2.5) and report["max_drop_pp"] == DEFAULT_MAX_DROP
    # Refused for the accuracy drop alone: the robustness battery on the same images passed.
    assert report["robustness"]["passed"] is True, report["robustness"]
    assert report["passed"] is False and result.published is False
    assert not target.exists() and result.report_path == failed_report_path(target)


def test_the_published_bundles_were_gated_at_the_default(int8_bundle):
    check = read_manifest(int8_bundle).accuracy_check
    assert check["max_drop_pp"] == DEFAULT_MAX_DROP and check["passed"] is True
    assert check["drop_pp"] <= DEFAULT_MAX_DROP
