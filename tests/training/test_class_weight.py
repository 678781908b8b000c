"""--class-weight balanced: a small class counts as much as a large one, on both fitting paths."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from training.config import ConfigError, TrainConfig


def test_balanced_weights_are_inverse_to_class_counts(tmp_path):
    from training.train import class_weights

    labels = np.array([0, 0, 0, 1, 2, 2])
    balanced = TrainConfig(data=tmp_path, out=tmp_path, class_weight="balanced")
    assert class_weights(balanced, labels, 3) == pytest.approx({0: 6 / 9, 1: 2.0, 2: 1.0})
    assert class_weights(TrainConfig(data=tmp_path, out=tmp_path), labels, 3) is None
    with pytest.raises(ConfigError, match="class weight"):
        TrainConfig(data=tmp_path, out=tmp_path, class_weight="inverse")


def test_balanced_weighting_changes_the_loss_on_imbalanced_data(tmp_path, demo_data):
    """Same seed, same data with Benign cut to a third: only the weighting differs, so the loss must."""
    from training.train import train

    data = tmp_path / "data"
    shutil.copytree(demo_data.root, data)
    for path in sorted((data / "Original" / "Benign").glob("*.jpg"))[10:]:
        path.unlink()

    losses = {}
    for weighting in ("none", "balanced"):
        config = TrainConfig(
            data=data,
            out=tmp_path / weighting,
            backbone="tiny",
            weights="none",
            epochs=2,
            batch_size=16,
            image_size=64,
            class_weight=weighting,
            verbose=0,
        )
        result = train(config)
        assert TrainConfig.read(result.run_dir / "config.json").class_weight == weighting
        losses[weighting] = result.history["loss"][0]
    assert losses["balanced"] != pytest.approx(losses["none"], rel=1e-3)
