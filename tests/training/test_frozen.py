"""Pretrained-backbone training: the backbone stays frozen, only the head learns, augmentation is real."""

from __future__ import annotations

import numpy as np
import pytest

from training.config import TrainConfig
from training.loading import ImageBatches


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory, trained_run):
    """A backbone weights file, as a user would bring for --weights FILE: the trained tiny run's base."""
    from training.models import load_model

    source = load_model(trained_run / "model.keras").get_layer("tiny")
    weights_file = tmp_path_factory.mktemp("weights") / "tiny.weights.h5"
    source.save_weights(weights_file)
    return weights_file, {layer.name: [w.copy() for w in layer.get_weights()] for layer in source.layers}


def test_weights_file_backbone_stays_frozen_while_the_head_trains(tmp_path, demo_data, tiny_backbone):
    from training.models import load_model
    from training.train import train

    weights_file, before = tiny_backbone

    config = TrainConfig(
        data=demo_data.root,
        out=tmp_path / "run",
        backbone="tiny",
        weights=str(weights_file),
        epochs=3,
        batch_size=16,
        image_size=64,
        verbose=0,
    )
    result = train(config)
    assert result.history["phase"] == ["head"] * len(result.history["loss"])
    base = load_model(result.run_dir / "model.keras").get_layer("tiny")
    for name, weights in before.items():  # the frozen base was not touched
        after = base.get_layer(name).get_weights() if weights else []
        assert all(np.array_equal(a, b) for a, b in zip(weights, after, strict=True)), name
    # the head started from random init and learned on the cached features of a good base
    assert result.metrics["test"]["accuracy"] >= 0.8


def test_fine_tuning_trains_only_the_top_of_the_backbone_and_never_batchnorm(
    tmp_path, demo_data, tiny_backbone
):
    """The network as fine-tuning leaves it, whichever epoch the checkpoint happens to keep."""
    from training.distribute import replicas_for
    from training.loading import load_images
    from training.models import build_classifier
    from training.prepare import prepare_split
    from training.resume import Checkpoints
    from training.train import fit

    weights_file, before = tiny_backbone
    config = TrainConfig(
        data=demo_data.root,
        out=tmp_path / "run",
        backbone="tiny",
        weights=str(weights_file),
        epochs=1,
        fine_tune_epochs=2,
        fine_tune_layers=4,  # block3: conv, bn, relu, pool
        fine_tune_learning_rate=1e-3,
        augment="d4",  # the frozen base now runs every epoch, on rotated and flipped images
        batch_size=16,
        image_size=64,
        patience=5,
        verbose=0,
    )
    split = prepare_split(config)
    parts = build_classifier(config, num_classes=len(split.classes))
    images = {part: load_images(split, split.part(part), config.image_size) for part in ("train", "val")}
    checkpoints = Checkpoints(config.out, config, parts.model, resume=False)
    fit(config, parts, images["train"], images["val"], checkpoints, replicas_for(config))
    rows = checkpoints.state.rows
    assert [row["phase"] for row in rows] == ["head", "fine-tune", "fine-tune"], rows

    def unchanged(name: str) -> bool:
        after = parts.base.get_layer(name).get_weights()
        return all(np.array_equal(a, b) for a, b in zip(before[name], after, strict=True))

    assert not unchanged("block3_conv")  # the top block learned
    for name in ("block1_conv", "block2_conv", "block3_bn"):  # below it, and BatchNorm, never moved
        assert unchanged(name), name


def test_batches_are_raw_float_pixels_with_one_hot_labels():
    pixels = np.arange(5 * 4 * 4 * 3, dtype=np.uint8).reshape(5, 4, 4, 3)
    batches = ImageBatches(pixels, np.array([0, 1, 2, 3, 0]), 4, batch_size=2)
    assert len(batches) == 3
    x, y = batches[2]
    assert x.dtype == np.float32 and np.array_equal(x, pixels[4:].astype(np.float32))
    assert y.tolist() == [[1, 0, 0, 0]]
