"""Augmentation policies: applied to training batches only, recorded, and reproducible with a seed."""

from __future__ import annotations

import json

import albumentations as A
import numpy as np
import pytest

from training.augment import NONE, POLICIES, Augmenter, AugmentPolicy
from training.config import ConfigError, TrainConfig
from training.loading import ImageBatches


def smears(n: int = 8, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_d4_moves_pixels_only_to_one_of_the_eight_symmetries_of_the_square():
    batch = smears(16, 8)
    out = Augmenter(POLICIES["d4"], (1,))(batch, epoch=0, index=0)
    moved = 0
    for before, after in zip(batch, out, strict=True):
        variants = [np.rot90(v, k) for v in (before, before[::-1]) for k in range(4)]
        assert any(np.array_equal(after, v) for v in variants)
        moved += not np.array_equal(before, after)
    assert moved >= 8


def test_the_clinic_policy_changes_images_but_not_their_shape_or_type():
    batch = smears()
    out = Augmenter(POLICIES["clinic-v1"], (0,))(batch, epoch=0, index=0)
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert not np.array_equal(out, batch)


def test_same_seed_epoch_and_batch_give_the_same_batch_and_others_differ():
    batch = smears()
    first = Augmenter(POLICIES["clinic-v1"], (7, 1))
    again = Augmenter(POLICIES["clinic-v1"], (7, 1))  # a fresh process, or a resumed run
    assert np.array_equal(first(batch, 3, 2), again(batch, 3, 2))
    assert not np.array_equal(first(batch, 3, 2), first(batch, 4, 2))  # next epoch: new draws
    assert not np.array_equal(first(batch, 3, 2), Augmenter(POLICIES["clinic-v1"], (8, 1))(batch, 3, 2))


def test_batch_order_depends_only_on_seed_and_epoch():
    pixels, labels = smears(10, 4), np.arange(10) % 4
    batches = ImageBatches(pixels, labels, 4, batch_size=4, shuffle=True, seed=(5,))
    epoch0 = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(epoch0, batches.order)
    resumed = ImageBatches(pixels, labels, 4, batch_size=4, shuffle=True, seed=(5,))
    resumed.epoch = 1  # what a resumed run sets
    assert np.array_equal(resumed.order, batches.order)
    assert sorted(batches.order) == list(range(10))


def test_the_policy_is_recorded_so_that_it_can_be_rebuilt_exactly():
    record = json.loads(json.dumps(POLICIES["clinic-v1"].describe()))
    assert (record["name"], record["version"]) == ("clinic-v1", 1)
    rebuilt = A.from_dict(record["albumentations"])
    original = POLICIES["clinic-v1"].build()
    batch = smears(4)
    for pipeline in (rebuilt, original):
        pipeline.set_random_seed(11)
    assert all(np.array_equal(rebuilt(image=x)["image"], original(image=x)["image"]) for x in batch)
    assert "albumentations" not in POLICIES[NONE].describe()


def test_unknown_policies_are_refused_and_old_boolean_configs_still_read():
    with pytest.raises(ConfigError, match="unknown augmentation policy 'sepia'"):
        TrainConfig(data="d", out="o", augment="sepia")
    assert TrainConfig.from_dict({"data": "d", "out": "o", "augment": True}).augment == "d4"
    assert TrainConfig.from_dict({"data": "d", "out": "o", "augment": False}).augment == NONE


def test_augmentation_reaches_training_batches_only(demo_data, tmp_path, monkeypatch):
    """Record every image a policy sees in a real run: training images, every one each epoch, nothing else."""
    from training.dataset import read_split
    from training.loading import load_images
    from training.train import train

    seen: list[bytes] = []

    def recording() -> A.Compose:
        def record(image, **_):
            seen.append(image.tobytes())
            return image

        return A.Compose([A.Lambda(name="record", image=record, p=1.0)])

    monkeypatch.setitem(POLICIES, "recording", AugmentPolicy("recording", 1, "records images", recording))
    config = TrainConfig(
        data=demo_data.root, out=tmp_path / "run", backbone="tiny", weights="none", epochs=2,
        batch_size=16, image_size=32, augment="recording", patience=5, verbose=0,
    )  # fmt: skip
    result = train(config)
    split = read_split(result.run_dir / "split.json")
    parts = {
        p: load_images(split, split.part(p), 32, warn=lambda line: None) for p in ("train", "val", "test")
    }
    train_images = [x.tobytes() for x in parts["train"].pixels]
    assert set(seen) <= set(train_images)  # never a validation or test image, nor the robustness battery
    assert all(seen.count(x) >= 2 for x in train_images)  # every training image, in each of the 2 epochs
    others = {x.tobytes() for p in ("val", "test") for x in parts[p].pixels}
    assert others and not others & set(seen)
    recorded = json.loads((result.run_dir / "config.json").read_text())
    assert recorded["augmentation"]["name"] == "recording" and recorded["config"]["augment"] == "recording"
