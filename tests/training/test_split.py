"""Discovery and the split: stratified, seeded, leak-free, and honest about what it set aside."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.dataset import DatasetError, discover, make_split, read_split, write_split


def _split(root, **kwargs):
    include = kwargs.get("include_segmented", False)
    return make_split(discover(root, include_segmented=include), **kwargs)


def test_split_is_stratified_and_covers_every_class(demo_data):
    split = _split(demo_data.root)
    counts = split.counts()
    for part in ("train", "val", "test"):
        assert set(counts[part]) == {"Benign", "Early", "Pre", "Pro"}, part
    for label in ("Benign", "Early", "Pre", "Pro"):
        total = sum(counts[p][label] for p in counts)
        assert abs(counts["test"][label] - 0.2 * total) <= 1.5, (label, counts)
        assert abs(counts["val"][label] - 0.1 * total) <= 1.5, (label, counts)


def test_split_is_seeded(demo_data):
    first = [(r.file, r.part) for r in _split(demo_data.root, seed=3).images]
    again = [(r.file, r.part) for r in _split(demo_data.root, seed=3).images]
    other = [(r.file, r.part) for r in _split(demo_data.root, seed=4).images]
    assert first == again
    assert first != other


def test_duplicates_are_dropped_and_on_one_side(demo_data):
    dataset = discover(demo_data.root)
    split = make_split(dataset)
    duplicate = demo_data.quirk_files["duplicate"]
    assert split.duplicates_dropped == [duplicate]
    kept = [r for r in split.images if r.file == "Original/Pro/WBC-Malignant-Pro-001.jpg"]
    assert len(kept) == 1
    hashes = [r.sha256 for r in split.images]
    assert len(hashes) == len(set(hashes)), "every kept file has distinct bytes"
    by_hash = {r.sha256: r.file for r in dataset.images if r.file == duplicate}
    assert by_hash[kept[0].sha256] == duplicate  # the dropped file really was byte-identical


def test_quirky_images_are_kept_and_unreadable_ones_skipped(demo_data):
    split = _split(demo_data.root)
    files = {r.file for r in split.images}
    for quirk in ("grayscale", "rgba", "odd_size"):
        assert demo_data.quirk_files[quirk] in files, quirk
    assert [s.file for s in split.skipped] == [demo_data.quirk_files["truncated"]]
    assert "truncated" in split.skipped[0].reason


def test_segmented_copies_only_in_train_and_with_their_original(demo_data):
    without = _split(demo_data.root)
    assert all(r.variant == "original" for r in without.images)

    split = _split(demo_data.root, include_segmented=True)
    segmented = [r for r in split.images if r.variant == "segmented"]
    assert segmented and all(r.part == "train" for r in segmented)
    part_of = {r.file: r.part for r in split.images}
    for record in segmented:
        original = record.file.replace("Segmented/", "Original/", 1)
        assert part_of[original] == "train", record.file
    # the held-out parts are the same images whether or not segmented copies are used
    for part in ("val", "test"):
        assert {r.file for r in split.part(part)} == {r.file for r in without.part(part)}


def test_split_json_round_trip(demo_data, tmp_path):
    split = _split(demo_data.root, seed=1)
    write_split(split, tmp_path / "split.json")
    again = read_split(tmp_path / "split.json")
    assert again.images == split.images
    assert again.skipped == split.skipped and again.duplicates_dropped == split.duplicates_dropped
    moved = read_split(tmp_path / "split.json", root=tmp_path)
    assert moved.path(moved.images[0]) == tmp_path / moved.images[0].file


def _plain_dataset(root: Path, names: dict[str, str], per_class: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for folder in names.values():
        (root / folder).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"img{i}.png")
    return root


def test_plain_layout_case_insensitive_and_unknown_folders_reported(tmp_path):
    root = _plain_dataset(tmp_path / "d", {"Benign": "benign", "Early": "EARLY", "Pre": "Pre", "Pro": "pRo"})
    (root / "notes").mkdir()
    (root / "notes" / "a.png").write_bytes((root / "benign" / "img0.png").read_bytes())
    (root / "benign" / "readme.txt").write_text("not an image")
    dataset = discover(root)
    assert Counter(r.label for r in dataset.images) == {"Benign": 4, "Early": 4, "Pre": 4, "Pro": 4}
    assert all(r.variant == "plain" for r in dataset.images)
    assert dataset.unknown_folders == [str(root / "notes")]
    assert [s.file for s in dataset.skipped] == ["benign/readme.txt"]


def test_training_and_the_device_take_the_same_image_files(tmp_path):
    """One suffix list (edge_all.runtime.images.IMAGE_SUFFIXES): a GIF in a class folder is an image to
    both."""
    from edge_all.runtime.inputs import expand_inputs

    root = _plain_dataset(tmp_path / "d", {c: c for c in ("Benign", "Early", "Pre", "Pro")})
    Image.open(root / "Pre" / "img0.png").save(root / "Pre" / "scan.gif")
    (root / "Pre" / "notes.txt").write_text("not an image")
    found = {r.file for r in discover(root).images}
    assert found == {str(p.relative_to(root)) for p in expand_inputs([str(root)]).files}
    assert "Pre/scan.gif" in found


@pytest.mark.parametrize(
    ("problem", "message"),
    [("missing", "no folder for class(es) Pre"), ("empty", "class folder Pre has no readable images")],
)
def test_missing_or_empty_class_is_an_error(tmp_path, problem, message):
    root = _plain_dataset(tmp_path / "d", {c: c for c in ("Benign", "Early", "Pre", "Pro")})
    if problem == "missing":
        shutil.rmtree(root / "Pre")
    else:
        for path in (root / "Pre").iterdir():
            path.write_bytes(b"")
    with pytest.raises(DatasetError, match=re.escape(message)):
        discover(root)


def test_a_run_reuses_its_split_json_exactly(trained_run, demo_data, tmp_path):
    from training.config import TrainConfig
    from training.prepare import prepare_split

    recorded = read_split(trained_run / "split.json")
    config = TrainConfig(
        data=demo_data.root, out=tmp_path / "run", seed=99, split_file=trained_run / "split.json"
    )  # another seed would split differently; the file wins
    assert prepare_split(config).images == recorded.images
    missing = tmp_path / "moved"
    missing.mkdir()
    config = TrainConfig(data=missing, out=tmp_path / "run", split_file=trained_run / "split.json")
    with pytest.raises(DatasetError, match="missing"):
        prepare_split(config)


def test_a_reused_split_without_segmented_images_refuses_include_segmented(trained_run, demo_data, tmp_path):
    """A split made without Segmented images has none to add: say so rather than silently train without."""
    from training.config import TrainConfig
    from training.prepare import prepare_split

    config = TrainConfig(
        data=demo_data.root,
        out=tmp_path / "run",
        include_segmented=True,
        split_file=trained_run / "split.json",
    )
    with pytest.raises(DatasetError, match="made without Segmented"):
        prepare_split(config)
