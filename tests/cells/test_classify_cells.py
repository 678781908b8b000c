"""`edge-all classify` with a format-3 cell bundle, run as a user runs it: each image's `cells` in
--json (boxes in the image's own pixels), each cell's box and class in the table, the cell counts."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.cells.fields import synthetic_field
from tests.cli_runner import run_edge_all

UM_PER_PX = 0.25


@pytest.fixture(scope="module")
def fields(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fields")
    smear = synthetic_field(3, um_per_px=UM_PER_PX, white_cells=3, lobed=False, size_um=(80.0, 110.0))
    Image.fromarray(smear.rgb).save(folder / "smear.png")
    empty = synthetic_field(4, um_per_px=UM_PER_PX, white_cells=0, size_um=(80.0, 110.0))
    Image.fromarray(empty.rgb).save(folder / "empty.png")
    return folder, smear


def test_json_gives_every_white_cell_with_its_box_label_confidence_and_status(cell_bundle, fields):
    folder, smear = fields
    done = run_edge_all(
        "classify", folder / "smear.png", folder / "empty.png", "--model", cell_bundle, "--json",
        "--um-per-px", UM_PER_PX, "--no-quality-gate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_file = {
        json.loads(line)["file"].rsplit("/", 1)[-1]: json.loads(line) for line in done.stdout.splitlines()
    }
    image = by_file["smear.png"]
    assert image["status"] == "classified" and image["label"] == "blue"
    assert image["scale"] == {"um_per_px": UM_PER_PX, "source": "given"}
    assert len(image["cells"]) == len(smear.white_cells)
    for x, y, _ in smear.white_cells:
        (cell,) = [
            c for c in image["cells"] if c["box"][0] <= x <= c["box"][2] and c["box"][1] <= y <= c["box"][3]
        ]
        assert cell["label"] == "blue" and cell["status"] == "all-like" and 0.5 <= cell["confidence"] <= 1.0
    empty = by_file["empty.png"]
    assert empty["status"] == "rejected" and empty["cells"] == []
    assert empty["reason"].startswith("no_white_cell: no white cell in this field")
    assert "white cells 3 (all-like 3, referred 0, cleared 0" in done.stderr


def test_the_table_prints_each_cells_box_and_class(cell_bundle, fields):
    folder, smear = fields
    done = run_edge_all(
        "classify",
        folder / "smear.png",
        "--model",
        cell_bundle,
        "--um-per-px",
        UM_PER_PX,
        "--no-quality-gate",
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("  cell [")]
    assert len(lines) == len(smear.white_cells) and all(
        " blue " in line and "all-like" in line for line in lines
    )


def test_an_image_of_unknown_scale_is_referred_with_an_empty_cell_list(cell_bundle, tmp_path):
    Image.new("RGB", (120, 90), (236, 232, 240)).save(tmp_path / "glass.png")
    done = run_edge_all(
        "classify", tmp_path / "glass.png", "--model", cell_bundle, "--json", "--no-quality-gate"
    )
    image = json.loads(done.stdout.splitlines()[0])
    assert image["status"] == "referred" and image["cells"] == [] and "--um-per-px" in image["reason"]
