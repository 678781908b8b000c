"""The robustness battery: named conditions, what they do to pixels, and the numbers a run writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from training.robustness import (
    BATTERY,
    BATTERY_VERSION,
    D4_CONDITIONS,
    apply_condition,
    conditions_for,
    run_battery,
)

CLASSES = ("Benign", "Early", "Pre", "Pro")


def by_name(name):
    return next(c for c in BATTERY if c.name == name)


def test_the_battery_covers_what_the_issue_names():
    names = {c.name for c in BATTERY}
    assert set(D4_CONDITIONS) <= names and {"clean", "jpeg90", "jpeg75", "jpeg50", "half_res"} <= names
    assert {"blur0.75", "blur1.0", "brighter", "darker", "saturated", "desaturated", "hue+10"} <= names


def test_conditions_change_pixels_as_named():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    assert np.array_equal(apply_condition(by_name("clean"), pixels), pixels)
    assert np.array_equal(apply_condition(by_name("rot90"), pixels)[0], np.rot90(pixels[0]))
    assert np.array_equal(apply_condition(by_name("mirror"), pixels)[0], pixels[0][:, ::-1])
    assert np.array_equal(apply_condition(by_name("transpose"), pixels)[0], pixels[0].transpose(1, 0, 2))
    blurred = np.asarray(Image.fromarray(pixels[1]).filter(ImageFilter.GaussianBlur(1.0)))
    assert np.array_equal(apply_condition(by_name("blur1.0"), pixels)[1], blurred)
    darker = apply_condition(by_name("darker"), pixels)
    assert darker.mean() == pytest.approx(0.8 * pixels.mean(), rel=0.02)
    half = apply_condition(by_name("half_res"), pixels)
    assert (
        half.shape == pixels.shape
        and np.abs(np.diff(half.astype(int), axis=2)).mean()
        < np.abs(np.diff(pixels.astype(int), axis=2)).mean()
    )
    reds = np.zeros((1, 8, 8, 3), np.uint8)
    reds[..., 0] = 200
    shifted = apply_condition(by_name("hue+10"), reds)[0, 0, 0]
    assert shifted[0] > 150 and shifted[1] > 10 and shifted[2] < 10  # red turns towards orange


def test_transposes_are_left_out_for_non_square_images():
    names = {c.name for c in conditions_for(np.zeros((1, 8, 12, 3), np.uint8))}
    assert "transpose" not in names and "transverse" not in names and "rot90" in names


def test_scores_count_malignant_called_benign_and_agreement():
    pixels = np.zeros((4, 8, 8, 3), np.uint8)
    pixels[:, :, :4] = 255  # a left-bright image: mirrored, it is right-bright
    labels = np.array([0, 1, 2, 3])

    def predict(batch):  # calls everything Benign once the bright half moves to the right
        right_bright = batch[:, :, 4:].mean(axis=(1, 2, 3)) > batch[:, :, :4].mean(axis=(1, 2, 3))
        out = np.zeros((len(batch), 4))
        out[np.arange(len(batch)), np.where(right_bright, 0, labels)] = 1
        return out

    results = {r.name: r for r in run_battery(predict, pixels, labels, CLASSES, ["clean", "mirror"])}
    assert results["clean"].accuracy == 1.0 and results["clean"].malignant_called_benign == 0
    mirror = results["mirror"]
    assert mirror.accuracy == 0.25 and (mirror.malignant_called_benign, mirror.malignant) == (3, 3)
    assert mirror.agreement_with_clean == 0.25 and mirror.per_class_recall["Benign"] == 1.0


def test_a_training_run_writes_the_battery_to_metrics_report_and_a_plot(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    robustness = metrics["robustness"]
    assert robustness["battery_version"] == BATTERY_VERSION
    assert [c["name"] for c in robustness["conditions"]] == [c.name for c in BATTERY]
    clean = robustness["conditions"][0]
    assert clean["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert clean["agreement_with_clean"] == 1.0
    report = (trained_run / "report.txt").read_text()
    assert "robustness: the test split under the battery" in report and "half_res" in report
    assert (trained_run / "robustness.png").stat().st_size > 1000
