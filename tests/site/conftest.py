"""Commissioning fields the tests draw and write as JPEGs (tests.cells.smears: red cells at a known
scale), a site commissioned from them with the reference bundle, and the cell bundles of tests/cells."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.cells.conftest import cell_bundle, colour_models  # noqa: F401  (fixtures, used here)
from tests.cells.smears import draw_field

UM_PER_PX = 0.3  # a red cell 25 px across
FIELD_SIZE = (240, 180)
FIELDS = 30


def write_fields(folder: Path, count: int = FIELDS, um_per_px: float = UM_PER_PX, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rgb = draw_field(um_per_px, size=FIELD_SIZE, seed=seed + i)
        Image.fromarray(rgb).save(folder / f"field-{seed + i:02d}.jpg", quality=92)
    return folder


@pytest.fixture(scope="session")
def fields(tmp_path_factory) -> Path:
    """30 fields of a normal smear at UM_PER_PX, as JPEGs."""
    return write_fields(tmp_path_factory.mktemp("smear") / "fields")
