"""Shared fixtures: the synthetic dataset, a small trained run, and bundles converted from it.

Everything is made here, on the test machine, in seconds: the tests never need the real dataset.
Heavy imports stay inside the fixtures so runtime-only tests start fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two cores: keep TensorFlow from oversubscribing them and quiet its start-up chatter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Third-party models live beside the checkout; EDGE_ALL_TEST_EXTERNAL points elsewhere, e.g. at a
# folder that does not exist, to run the suite as a fresh clone without ../shared does.
EXTERNAL = Path(os.environ.get("EDGE_ALL_TEST_EXTERNAL") or SHARED / "external")

# The tiny test model works on small images so the whole suite stays in minutes on 2 cores.
TEST_IMAGE_SIZE = 64


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    from training.demo_data import make_demo_dataset

    return make_demo_dataset(tmp_path_factory.mktemp("demo-data"), per_class=30, seed=0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo_data) -> Path:
    """A run dir (model.keras, split.json, metrics.json, ...) of the tiny backbone on synthetic data."""
    from training.config import TrainConfig
    from training.train import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(
        data=demo_data.root,
        out=out,
        backbone="tiny",
        weights="none",
        epochs=12,
        batch_size=16,
        seed=0,
        image_size=TEST_IMAGE_SIZE,
    )
    return train(config).run_dir


@pytest.fixture(scope="session")
def jax_run(tmp_path_factory, demo_data) -> Path:
    """The tiny network trained by `edge-all train` on the JAX backend, on one device (JAX_RUN_ARGS)."""
    from tests.cli_runner import JAX_RUN_ARGS, JAX_TWO_DEVICES, run_edge_all

    out = tmp_path_factory.mktemp("runs") / "jax"
    proc = run_edge_all(
        "train", "--data", demo_data.root, "--out", out, *JAX_RUN_ARGS, env=JAX_TWO_DEVICES, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def int8_bundle(tmp_path_factory, trained_run) -> Path:
    from convert.config import ConvertConfig
    from convert.convert import convert_run

    out = tmp_path_factory.mktemp("bundles") / "int8"
    result = convert_run(ConvertConfig(run_dir=trained_run, out=out, precision="int8"))
    assert result.published, result.report
    return result.bundle_dir


@pytest.fixture(scope="session")
def float32_bundle(tmp_path_factory, trained_run) -> Path:
    from convert.config import ConvertConfig
    from convert.convert import convert_run

    out = tmp_path_factory.mktemp("bundles") / "float32"
    result = convert_run(ConvertConfig(run_dir=trained_run, out=out, precision="float32"))
    assert result.published, result.report
    return result.bundle_dir


@pytest.fixture(scope="session")
def coral_models() -> Path:
    """Coral's ImageNet MobileNetV2 models, labels and test images (third-party, Apache-2.0).

    Only the tests that need a real ImageNet model use these; everything else runs on models the
    suite makes itself, so a clone without ../shared still runs them.
    """
    path = EXTERNAL / "coral-test-data"
    if not path.is_dir():
        pytest.skip(f"{path} not present (third-party test models live beside the checkout)")
    return path


# The fixtures that build models with TensorFlow: seconds each. `make mutation` leaves their tests out
# (`-m "not needs_tensorflow"`), since it reruns every test it picks once per mutant.
MODEL_FIXTURES = {
    "trained_run",
    "jax_run",
    "int8_bundle",
    "float32_bundle",
    "tiny_models",
    "tiny_bundle",
    "square_bundle",
    "gap_bundle",
    "run_copy",
    "smear_classifier",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_tensorflow)
