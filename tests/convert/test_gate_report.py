"""What the accuracy gate records beside its decision, worked out by hand for a few images.

No model: `compare` takes probabilities, `load_pixels` and `items_from_folder` read real image files,
so `make mutation` runs these for every mutant of convert/accuracy.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convert.accuracy import (
    CAVEAT,
    EvalItem,
    _model_result,
    compare,
    items_from_folder,
    items_from_split,
    load_pixels,
)
from convert.errors import ConvertError
from edge_all.runtime.images import Preprocessing
from training.dataset import CLASSES, ImageRecord, Split

LABELS = ["A", "B", "C"]
# Five images: truth A A B B C. The float model gets 0, 1, 2, 4 right (3 -> C); the converted one
# gets 0, 2, 3, 4 right (1 -> C): one image became wrong, one became right, the drop is zero.
TRUTH = ["A", "A", "B", "B", "C"]
FLOAT = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.0, 0.1, 0.9]])
CONVERTED = np.array([[0.7, 0.2, 0.1], [0.3, 0.2, 0.5], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8]])


def items(truth=TRUTH) -> list[EvalItem]:
    return [
        EvalItem(f"{label}/{i}.png", Path(f"/data/{label}/{i}.png"), label) for i, label in enumerate(truth)
    ]


def test_the_report_holds_every_number_the_gate_decided_on():
    unfamiliarity = np.array([0.5, 1.23456, 0.0, 2.0, 0.1])
    report = compare(
        LABELS, items(), FLOAT, CONVERTED, 0.0, ("keras", "tflite"), "held-out", Path("/data"),
        skipped=["x.png: empty file"], unfamiliarity=unfamiliarity,
    ).to_dict()  # fmt: skip
    assert report["eval_set"] == "held-out" and report["eval_root"] == "/data"
    assert report["labels"] == LABELS and report["images"] == 5
    assert report["support"] == {"A": 2, "B": 2, "C": 1}
    assert report["float_model"] == {
        "name": "keras",
        "accuracy": 0.8,
        "correct": 4,
        "per_class_recall": {"A": 1.0, "B": 0.5, "C": 1.0},
        "confusion": [[2, 0, 0], [0, 1, 1], [0, 0, 1]],
    }
    assert report["converted"] == {
        "name": "tflite",
        "accuracy": 0.8,
        "correct": 4,
        "per_class_recall": {"A": 0.5, "B": 1.0, "C": 1.0},
        "confusion": [[1, 0, 1], [0, 2, 0], [0, 0, 1]],
    }
    assert report["drop_pp"] == 0.0 and report["max_drop_pp"] == 0.0 and report["passed"] is True
    assert report["top1_agreement"] == pytest.approx(0.6)
    assert report["changed"] == {"images": 2, "became_right": 1, "became_wrong": 1}
    assert report["mean_abs_prob_diff"] == pytest.approx(np.abs(FLOAT - CONVERTED).mean())
    assert report["predictions"][1] == {
        "file": "A/1.png",
        "label": "A",
        "float": "A",
        "converted": "C",
        "converted_confidence": 0.5,
        "unfamiliarity": 1.2346,
    }
    assert [p["converted"] for p in report["predictions"]] == ["A", "C", "B", "B", "C"]
    assert [p["float"] for p in report["predictions"]] == ["A", "A", "B", "C", "C"]
    assert report["skipped"] == ["x.png: empty file"]
    assert report["caveat"] == CAVEAT and "overstate" in CAVEAT
    plain = compare(LABELS, items(), FLOAT, CONVERTED, 1.0, ("f", "c"), "s", Path("."))
    assert plain.skipped == [] and plain.predictions[0]["unfamiliarity"] is None
    assert plain.max_drop_pp == 1.0 and isinstance(plain.max_drop_pp, float)
    # Counts are integers in the JSON report, not 2.0.
    assert all(type(n) is int for row in report["float_model"]["confusion"] for n in row)


def test_confidence_is_rounded_to_six_places_and_the_drop_is_in_points():
    converted = CONVERTED.copy()
    converted[0] = [0.123456789, 0.0, 0.0]
    converted[2] = [0.9, 0.05, 0.05]  # one more image wrong: 3 of 5 right, 20 points down
    report = compare(LABELS, items(), FLOAT, converted, 19.99, ("f", "c"), "s", Path("."))
    assert report.predictions[0]["converted_confidence"] == 0.123457
    assert report.drop_pp == pytest.approx(20.0) and report.passed is False
    assert compare(LABELS, items(), FLOAT, converted, 20.0, ("f", "c"), "s", Path(".")).passed
    third = compare(LABELS, items()[:3], FLOAT[:3], CONVERTED[:3], 50.0, ("f", "c"), "s", Path("."))
    assert third.drop_pp == 33.333333  # one image of three, recorded to 6 decimals


def test_a_class_without_images_has_no_recall():
    result = _model_result("m", LABELS, np.array([0, 0, 1]), np.array([0, 1, 1]))
    assert result.per_class_recall == {"A": 0.5, "B": 1.0, "C": None}
    assert result.correct == 2 and result.accuracy == pytest.approx(2 / 3)


def test_outputs_that_do_not_fit_the_images_are_refused():
    with pytest.raises(ConvertError, match=r"^held-out: no readable images to check the converted model on$"):
        compare(LABELS, [], FLOAT[:0], CONVERTED[:0], 1.0, ("f", "c"), "held-out", Path("."))
    with pytest.raises(ConvertError) as raised:
        compare(LABELS, items(), FLOAT, CONVERTED[:4], 1.0, ("f", "c"), "s", Path("."))
    assert str(raised.value) == "model outputs (5, 3) and (4, 3) do not match 5 images x 3 classes"
    with pytest.raises(ConvertError, match=r"do not match 4 images x 3 classes$"):
        compare(LABELS, items()[:4], FLOAT, FLOAT, 1.0, ("f", "c"), "s", Path("."))
    with pytest.raises(
        ConvertError, match=r"^model outputs \(5, 3\) and \(5, 3\) do not match 5 images x 2 classes$"
    ):
        compare(LABELS[:2], items(), FLOAT[:, :3], FLOAT[:, :3], 1.0, ("f", "c"), "s", Path("."))


def test_the_check_reads_pixels_as_the_device_does_and_skips_what_it_cannot(tmp_path):
    Image.new("RGB", (8, 4), (200, 0, 0)).save(tmp_path / "wide.png")
    Image.new("RGB", (4, 4), (0, 0, 200)).save(tmp_path / "square.png")
    (tmp_path / "broken.png").write_text("not an image")
    wanted = [EvalItem(name, tmp_path / name, "A") for name in ("wide.png", "broken.png", "square.png")]
    pixels, readable, skipped = load_pixels(wanted, (2, 3), Preprocessing(), show_progress=False)
    assert pixels.shape == (3 - 1, 2, 3, 3) and pixels.dtype == np.uint8
    assert pixels[0].tolist() == [[[200, 0, 0]] * 3] * 2 and pixels[1].tolist() == [[[0, 0, 200]] * 3] * 2
    assert [item.file for item in readable] == ["wide.png", "square.png"]
    assert skipped == [f"{tmp_path / 'broken.png'}: not an image file (format not recognised)"]
    Image.fromarray(np.array([[[255, 0, 0]] * 2 + [[0, 0, 255]] * 2], np.uint8)).save(tmp_path / "wide.png")
    cropped, _, _ = load_pixels(wanted[:1], (1, 1), Preprocessing(resize="nearest"), show_progress=False)
    stretched, _, _ = load_pixels(
        wanted[:1], (1, 1), Preprocessing("RGB", "area", "none"), show_progress=False
    )
    assert cropped[0, 0, 0].tolist() == [255, 0, 0]  # the centre square of the red-red-blue-blue row
    assert stretched[0, 0, 0].tolist() == [128, 0, 128]  # the whole row, averaged
    none, nothing, _ = load_pixels(wanted[1:2], (2, 3), Preprocessing(), show_progress=False)
    assert none.shape == (0, 2, 3, 3) and none.dtype == np.uint8 and nothing == []


def labelled(root: Path) -> Path:
    for i, label in enumerate(CLASSES):
        (root / label).mkdir(parents=True)
        Image.new("RGB", (4, 4), (i * 50, 0, 0)).save(root / label / "a.png")
    Image.new("RGB", (4, 4), (0, 0, 0)).save(root / CLASSES[0] / "b.png")  # a byte-identical copy
    (root / CLASSES[1] / "notes.txt").write_text("x")
    return root


def test_a_labelled_folder_counts_each_distinct_image_once(tmp_path):
    root = labelled(tmp_path / "check")
    found, skipped = items_from_folder(root, CLASSES)
    assert [(item.file, item.label) for item in found] == [(f"{c}/a.png", c) for c in CLASSES]
    assert found[0].path == root / CLASSES[0] / "a.png"
    assert skipped == [f"{root / CLASSES[1] / 'notes.txt'}: not an image file name (.txt)"]
    with pytest.raises(ConvertError) as raised:
        items_from_folder(root, CLASSES[:3])
    assert str(raised.value) == (
        f"{root}: classes ['{CLASSES[3]}'] are not among the model's labels {list(CLASSES[:3])}"
    )
    segmented = tmp_path / "kaggle"
    labelled(segmented / "Original")
    labelled(segmented / "Segmented")
    Image.new("RGB", (4, 4), (1, 2, 3)).save(segmented / "Segmented" / CLASSES[2] / "only-here.png")
    found, _ = items_from_folder(segmented, CLASSES)  # the check scores Original images only
    assert [item.file for item in found] == [f"Original/{c}/a.png" for c in CLASSES]
    with pytest.raises(ConvertError, match=r"dataset folder not found$"):
        items_from_folder(tmp_path / "missing", CLASSES)


def test_a_runs_test_split_is_checked_in_file_order(tmp_path):
    records = [
        ImageRecord("Pre/1.png", "Pre", "h1", "plain", part="test"),
        ImageRecord("Pro/2.png", "Pro", "h2", "plain", part="train"),
        ImageRecord("Benign/3.png", "Benign", "h3", "plain", part="test"),
    ]
    split = Split(tmp_path, tuple(CLASSES), records, 0, 0.2, 0.1, False)
    assert items_from_split(split) == [
        EvalItem("Pre/1.png", tmp_path / "Pre/1.png", "Pre"),
        EvalItem("Benign/3.png", tmp_path / "Benign/3.png", "Benign"),
    ]
