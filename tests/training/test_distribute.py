"""--distribute: data-parallel training on 2 devices learns what one device learns on the same batches.

JAX simulates two CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=2), so this runs on
any machine; it proves correctness, not speed (both "devices" share the same cores).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_runner import JAX_RUN_ARGS, JAX_TWO_DEVICES, run_edge_all


def read_json(path):
    return json.loads(path.read_text())


def test_two_devices_learn_what_one_device_learns_on_the_same_global_batches(tmp_path, demo_data, jax_run):
    """jax_run: the same command on one device (conftest). Batches of 32, 16 per device."""
    from training.models import load_model

    one, two = jax_run, tmp_path / "two-devices"
    args = ["train", "--data", demo_data.root, "--out", two, *JAX_RUN_ARGS, "--distribute"]
    proc = run_edge_all(*args, env=JAX_TWO_DEVICES, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    config = read_json(two / "config.json")
    assert config["config"]["distribute"] is True and config["machine"]["keras_backend"] == "jax"
    assert config["distribution"] == {"devices": ["cpu:0", "cpu:1"], "processes": 1}
    assert "distribution" not in read_json(one / "config.json")

    single, parallel = read_json(one / "history.json"), read_json(two / "history.json")
    # the same images in the same global batches, every epoch
    assert parallel["data_fingerprint"] == single["data_fingerprint"]
    # The tolerance sits between two measured effects (tiny network, this data, 2 epochs): sums in
    # another order (the gradients and BatchNorm statistics are reduced across devices) moved val_loss
    # by up to 5e-4 and the weights by 3e-4 of their norm; training on batches of 16 instead of 32 (what
    # replicas that each stepped on their own half would do) moved the loss by 0.2 and the weights by
    # 15%. One epoch of training moves val_loss by about 0.7 here.
    learned = abs(single["val_loss"][0] - single["val_loss"][1])
    assert learned > 0.1
    for key in ("loss", "val_loss"):
        difference = np.abs(np.subtract(parallel[key], single[key])).max()
        assert difference < 1e-2 * learned, (key, single[key], parallel[key])
    weights = [
        np.concatenate([w.ravel() for w in load_model(run / "model.keras").get_weights()])
        for run in (one, two)
    ]
    assert np.linalg.norm(weights[0] - weights[1]) < 1e-2 * np.linalg.norm(weights[0])


def test_distribute_on_the_tensorflow_backend_says_to_use_jax(tmp_path):
    """(This process runs Keras on TensorFlow, as `edge-all train` does by default.)"""
    import keras

    from training.config import ConfigError, TrainConfig
    from training.distribute import replicas_for

    assert keras.config.backend() == "tensorflow"
    config = TrainConfig(
        data=tmp_path, out=tmp_path / "run", backbone="tiny", weights="none", distribute=True
    )
    with pytest.raises(ConfigError, match=r"^--distribute needs the JAX backend .*KERAS_BACKEND=jax"):
        replicas_for(config)
    assert replicas_for(TrainConfig(data=tmp_path, out=tmp_path / "run", backbone="tiny")).count == 1
