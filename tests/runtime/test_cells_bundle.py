"""The shipped cell model (edge_all/runtime/models/cells, docs/model-card-cells.md), picked by name.

`--model cells` names the shipped bundle (edge_all.runtime.models.NAMED); a path that exists is always
the path. The bundle is the real int8 model, read by the real runtime on a test-made field.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from edge_all.runtime.bundle import read_manifest
from edge_all.runtime.choice import ModelChoice
from edge_all.runtime.models import CELLS, named_bundle, reference_bundle
from tests.cells.fields import synthetic_field
from tests.cli_runner import run_edge_all


def test_the_cell_bundle_ships_as_format_3_with_roles_for_every_label():
    manifest = read_manifest(named_bundle(CELLS))
    assert manifest.format_version == 3 and manifest.reads_cells and manifest.precision == "int8"
    assert manifest.scale.um_per_px == 0.55 and manifest.cell_crop.size_px == 64
    assert manifest.stain.method == "reinhard"
    assert set(manifest.label_roles) == set(manifest.labels)
    assert (
        manifest.label_roles["Pre"] == "all_like" and manifest.label_roles["platelet"] == "not_a_white_cell"
    )
    assert manifest.trained_on.data == "real"


def test_a_name_picks_the_shipped_bundle_and_a_path_that_exists_stays_a_path(tmp_path, monkeypatch):
    assert ModelChoice(Path("cells")).path == named_bundle(CELLS)
    assert ModelChoice(Path("reference")).path == reference_bundle()
    assert ModelChoice(None).path == reference_bundle()  # the default is unchanged
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cells").mkdir()
    assert ModelChoice(Path("cells")).path == Path("cells")
    assert ModelChoice(Path("no-such-model")).path == Path("no-such-model")
    assert named_bundle("no-such-model") is None


def test_classify_with_model_cells_prints_each_cells_box_and_class(tmp_path):
    smear = synthetic_field(7, um_per_px=0.1, white_cells=2, lobed=False, size_um=(60.0, 90.0))
    Image.fromarray(smear.rgb).save(tmp_path / "field.png")
    done = run_edge_all(
        "classify", tmp_path / "field.png", "--model", "cells", "--um-per-px", 0.1, "--json",
        "--no-quality-gate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    image = json.loads(done.stdout.splitlines()[0])
    assert image["scale"] == {"um_per_px": 0.1, "source": "given"}
    labels = read_manifest(named_bundle(CELLS)).labels
    assert len(image["cells"]) == len(smear.white_cells)
    for x, y, _ in smear.white_cells:
        (cell,) = [
            c for c in image["cells"] if c["box"][0] <= x <= c["box"][2] and c["box"][1] <= y <= c["box"][3]
        ]
        assert cell["label"] in labels and cell["status"] in ("all-like", "referred", "cleared", "dropped")
