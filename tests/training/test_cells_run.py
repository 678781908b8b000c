"""A tiny cell run end to end on test-made sources: crops cut and split per source, trained, converted
to a format-3 bundle, loaded by the runtime, and a synthetic field classified cell by cell.

The three sources are drawn here (tests/cells/fields.py) in the layouts of ../shared/data: the home
lab's 224x224 fields with Segmented copies, CellaVision-like single cells at 0.094 um/px, and a third
lab's fields at 0.1 um/px with a boxes.csv. Nothing reads ../shared/data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.cells.fields import synthetic_field
from tests.cli_runner import run_edge_all
from training.cells_data import (
    CELL_CLASSES,
    CELLS_FILE,
    CROP_PX,
    LABEL_ROLES,
    PBC_CLASSES,
    UM_PER_PX,
)
from training.config import RECIPES, ConfigError, TrainConfig

HOME = ("Benign", "Early", "Pre", "Pro")
CHULA = ("neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil")


def _save(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=95)


def _sources(root):
    """The three sources, 6 (home), 5 (pbc) and 6 (chula) images per class."""
    seed = 0
    for label in HOME:
        for i in range(6):
            seed += 1
            field = synthetic_field(seed, um_per_px=0.54, white_cells=1, size_um=(121.0, 121.0))
            _save(root / "ALL/Original" / label / f"WBC-{label}-{i:03d}.jpg", field.rgb)
            x, y, r = field.white_cells[0]
            yy, xx = np.mgrid[: field.rgb.shape[0], : field.rgb.shape[1]]
            painted = np.where((np.hypot(xx - x, yy - y) <= r)[..., None], field.rgb, 0).astype(np.uint8)
            _save(root / "ALL/Segmented" / label / f"WBC-{label}-{i:03d}.jpg", painted)
    for folder in PBC_CLASSES:
        for i in range(5):
            seed += 1
            field = synthetic_field(seed, um_per_px=0.094, white_cells=0, size_um=(34.0, 34.0))
            cell = synthetic_field(seed, um_per_px=0.094, white_cells=1, size_um=(20.0, 20.0))
            rgb = field.rgb.copy()
            top = (rgb.shape[0] - cell.rgb.shape[0]) // 2
            rgb[top : top + cell.rgb.shape[0], top : top + cell.rgb.shape[1]] = cell.rgb
            _save(root / "pbc-normal" / folder / f"{folder}_{i}.jpg", rgb)
    rows = ["file,cls,x0,y0,x1,y1"]
    for label in CHULA:
        for i in range(6):
            seed += 1
            field = synthetic_field(seed, um_per_px=0.1, white_cells=1, size_um=(30.0, 40.0))
            name = f"field/{label}_{i}.jpg"
            _save(root / "chula-fields" / name, field.rgb)
            x, y, r = field.white_cells[0]
            rows.append(f"{name},{label},{x - r:.0f},{y - r:.0f},{x + r:.0f},{y + r:.0f}")
    (root / "chula-fields/boxes.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def cell_run(tmp_path_factory):
    from training.train import train

    data = _sources(tmp_path_factory.mktemp("sources"))
    out = tmp_path_factory.mktemp("runs") / "cells"
    config = TrainConfig(
        data=data, out=out, task="cells", backbone="tiny", weights="none", epochs=2, batch_size=16,
        image_size=32, augment="cells-v1", class_weight="balanced", verbose=0,
    )  # fmt: skip
    return train(config).run_dir


@pytest.fixture(scope="module")
def cell_bundle(cell_run, tmp_path_factory):
    from convert.config import ConvertConfig
    from convert.convert import convert_run

    out = tmp_path_factory.mktemp("bundles") / "cells"
    # the gate's 1-point limits mean nothing on ~40 test crops of a 2-epoch model: this checks format 3
    result = convert_run(
        ConvertConfig(cell_run, out, max_drop=100.0, max_robustness_drop=100.0, progress=False)
    )
    assert result.published, result.report
    return result.bundle_dir


def test_crops_are_cut_per_source_at_the_bundle_scale_and_split_within_each(cell_run):
    split = json.loads((cell_run / "split.json").read_text())
    assert split["classes"] == list(CELL_CLASSES)
    by_source: dict[str, set[str]] = {}
    for record in split["images"]:
        source = record["file"].split("/", 1)[0]
        by_source.setdefault(source, set()).add(record["part"])
        crop = Image.open(cell_run / "cells" / record["file"])
        assert crop.size == (CROP_PX, CROP_PX)
    assert by_source == {s: {"train", "val", "test"} for s in ("home", "pbc", "chula")}
    labels = {r["label"] for r in split["images"]}
    assert "other_refer" in labels and "platelet" in labels and "ig" not in labels
    cells = json.loads((cell_run / CELLS_FILE).read_text())
    assert cells["scale"] == {"um_per_px": UM_PER_PX} and cells["label_roles"] == LABEL_ROLES
    assert cells["stain"]["target_means"] == cells["source_stain"]["home"]["means"]


def test_the_bundle_is_format_3_with_the_runs_scale_stain_and_roles(cell_run, cell_bundle):
    from edge_all.runtime.bundle import read_manifest

    manifest = read_manifest(cell_bundle)
    cells = json.loads((cell_run / CELLS_FILE).read_text())
    assert manifest.format_version == 3 and manifest.reads_cells
    assert manifest.scale.um_per_px == UM_PER_PX and manifest.cell_crop.size_px == CROP_PX
    assert manifest.stain.method == "reinhard"
    assert list(manifest.stain.target_means) == pytest.approx(cells["stain"]["target_means"])
    assert manifest.label_roles == LABEL_ROLES and manifest.labels == list(CELL_CLASSES)
    assert manifest.referral is not None and manifest.calibration is not None


def test_classify_reads_a_field_cell_by_cell_with_the_new_bundle(cell_bundle, tmp_path):
    smear = synthetic_field(99, um_per_px=0.1, white_cells=2, lobed=False, size_um=(60.0, 90.0))
    Image.fromarray(smear.rgb).save(tmp_path / "field.png")
    done = run_edge_all(
        "classify", tmp_path / "field.png", "--model", cell_bundle, "--json", "--um-per-px", 0.1,
        "--no-quality-gate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    image = json.loads(done.stdout.splitlines()[0])
    assert image["scale"] == {"um_per_px": 0.1, "source": "given"}
    for x, y, _ in smear.white_cells:
        hits = [
            c for c in image["cells"] if c["box"][0] <= x <= c["box"][2] and c["box"][1] <= y <= c["box"][3]
        ]
        assert len(hits) == 1, image["cells"]
        assert hits[0]["label"] in CELL_CLASSES and hits[0]["status"] in (
            "all-like",
            "referred",
            "cleared",
            "dropped",
        )


def test_the_cells_recipe_fills_only_what_was_left_at_its_default(tmp_path):
    config = TrainConfig.with_recipe("cells", data=tmp_path, out=tmp_path / "o", epochs=3)
    assert config.task == "cells" and config.epochs == 3
    assert (
        config.backbone == RECIPES["cells"]["backbone"]
        and config.image_size == RECIPES["cells"]["image_size"]
    )
    assert config.augment == "cells-v1" and config.class_weight == "balanced"
    assert TrainConfig.with_recipe("field", data=tmp_path, out=tmp_path).backbone == "resnet50"
    with pytest.raises(ConfigError, match="unknown task 'nuclei'"):
        TrainConfig.with_recipe("nuclei", data=tmp_path, out=tmp_path)
    with pytest.raises(ConfigError, match="a cell run cuts and splits its own crops"):
        TrainConfig(data=tmp_path, out=tmp_path, task="cells", split_file=tmp_path / "split.json")


def test_a_cell_run_without_its_sources_fails_in_one_line(tmp_path):
    from training.cells_data import build_cell_split
    from training.dataset import DatasetError

    with pytest.raises(DatasetError, match="no pbc-normal/ folder"):
        (tmp_path / "ALL").mkdir()
        build_cell_split(tmp_path, tmp_path / "out", 0, 0.2, 0.1, print)


def test_a_resumed_cell_run_reads_its_own_crops_wherever_data_points(cell_run, tmp_path):
    from training.prepare import split_to_resume

    config = TrainConfig(data=tmp_path / "moved", out=cell_run, task="cells", backbone="tiny", weights="none")
    split = split_to_resume(config)
    assert split.root == cell_run / "cells" and split.classes == CELL_CLASSES
    assert all(split.path(r).is_file() for r in split.images)
