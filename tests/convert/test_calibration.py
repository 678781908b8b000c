"""Calibration draws from the training part only, sharing the samples out across classes."""

from __future__ import annotations

from collections import Counter

from convert.calibration import select_stratified
from training.dataset import ImageRecord


def _records(counts: dict[str, int], part: str = "train") -> list[ImageRecord]:
    return [
        ImageRecord(f"{label}/{i:03d}.jpg", label, f"{label}{i}", "original", part)
        for label, n in counts.items()
        for i in range(n)
    ]


def test_equal_shares_while_classes_last():
    chosen = select_stratified(_records({"Benign": 50, "Early": 50, "Pre": 50, "Pro": 50}), 20)
    assert Counter(r.label for r in chosen) == {"Benign": 5, "Early": 5, "Pre": 5, "Pro": 5}
    assert len({r.file for r in chosen}) == 20


def test_a_small_class_gives_all_it_has_and_the_others_fill_in():
    chosen = select_stratified(_records({"Benign": 2, "Early": 40, "Pre": 40, "Pro": 40}), 32)
    counts = Counter(r.label for r in chosen)
    assert counts["Benign"] == 2 and sum(counts.values()) == 32
    assert max(counts.values()) - min(counts["Early"], counts["Pre"], counts["Pro"]) <= 1


def test_all_when_fewer_than_asked_and_the_same_choice_every_time():
    records = _records({"Benign": 3, "Early": 4, "Pre": 5, "Pro": 6})
    assert len(select_stratified(records, 200)) == 18
    assert select_stratified(records, 7, seed=1) == select_stratified(list(reversed(records)), 7, seed=1)
    assert select_stratified(records, 7, seed=1) != select_stratified(records, 7, seed=2)


def test_calibration_leaves_out_segmented_copies(trained_run, tmp_path):
    """A run trained with --include-segmented still calibrates on what the microscope shows."""
    from dataclasses import replace

    from convert.calibration import load_calibration
    from edge_all.runtime.images import Preprocessing
    from training.dataset import read_split

    split = read_split(trained_run / "split.json")
    train = split.part("train")
    segmented = [
        replace(r, file=r.file.replace("Original/", "Segmented/", 1), variant="segmented") for r in train
    ]
    split.images = split.images + segmented
    calibration = load_calibration(split, 500, (64, 64), Preprocessing(), show_progress=False)
    assert sorted(calibration.files) == sorted(r.file for r in train)
    assert calibration.pixels.shape == (len(train), 64, 64, 3)
