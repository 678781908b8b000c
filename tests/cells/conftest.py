"""A tiny format-3 cell bundle around a real TFLite model (made here with TensorFlow's converter).

The model is the runtime tests' colour classifier (the mean of each channel, times 10, minus 5) with a
square input: a crop of a violet-nucleused white cell in its lilac cytoplasm is "blue", so the roles
given to the three colours decide every cell's status.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_all.runtime.bundle import CELLS_FORMAT_VERSION, MANIFEST_FILE
from tests.runtime.conftest import COLOURS, _convert, _keras_model, make_bundle

CROP_PX = 24  # 13 um at 0.55 um/px: the cell and little around it
INPUT_PX = 32
ROLES = {"red": "not_all_like", "green": "refer", "blue": "all_like"}


def cells_bundle(model: Path, out: Path, roles: dict[str, str] = ROLES, stain: dict | None = None) -> Path:
    """A format-3 bundle of `model`: the runtime tests' bundle with the cell keys added."""
    bundle = make_bundle(model, COLOURS, out)
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest.update(
        format_version=CELLS_FORMAT_VERSION,
        reads="cells",
        scale={"um_per_px": 0.55},
        cell_crop={"size_px": CROP_PX},
        stain=stain or {"method": "none"},
        label_roles=roles,
        confidence_threshold=0.5,
    )
    manifest["preprocessing"]["crop"] = "none"
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    return bundle


@pytest.fixture(scope="session")
def colour_models(tmp_path_factory) -> dict[str, Path]:
    """The square colour classifier as float32 and as full int8 (uint8 I/O)."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("cell-models")
    paths = {}
    for name, io_type in (("float32", None), ("uint8", tf.uint8)):
        path = root / f"{name}.tflite"
        path.write_bytes(_convert(_keras_model(softmax=True, height=INPUT_PX, width=INPUT_PX), io_type))
        paths[name] = path
    return paths


@pytest.fixture(scope="session")
def cell_bundle(tmp_path_factory, colour_models) -> Path:
    return cells_bundle(colour_models["float32"], tmp_path_factory.mktemp("cell-bundle") / "bundle")


@pytest.fixture(scope="session")
def cell_bundle_int8(tmp_path_factory, colour_models) -> Path:
    return cells_bundle(colour_models["uint8"], tmp_path_factory.mktemp("cell-bundle-int8") / "bundle")


@pytest.fixture(scope="session")
def square_bundle_path(tmp_path_factory, colour_models) -> Path:
    """The same model in a format-2 (whole-field) bundle."""
    return make_bundle(colour_models["float32"], COLOURS, tmp_path_factory.mktemp("field-bundle") / "bundle")
