"""Cell-centred crops for a cell model: every source at one scale and one stain, split within each source.

A cell model reads what the device cuts (edge_all.triage.cells): the field resampled to the bundle's
scale (area averaging), stain-normalised as a whole (torchstain's numpy Reinhard, to ONE target), then
a crop of CROP_PX centred on each white cell, reflect-padded. The builder does exactly that with the
device's own code, for three sources:

- home: the ALL dataset's 224x224 fields (about 0.54 um/px, red cell ~14 px): Benign, Early, Pre, Pro;
  the labelled cells are the device finder's cells that the Segmented copy paints (else its largest
  painted piece, else the field's centre); the split is
  training.dataset's (duplicates and a specimen's copies on one side).
- pbc: CellaVision single cells (0.094 um/px): the five normal white cells; ig and erythroblast ->
  `other_refer` (not normal in peripheral blood: a person must look), platelet -> `platelet` (not a
  white cell).
- chula: 1440x900 fields (about 0.1 um/px, measured with edge_all.cells.scale), one boxed white cell
  each; the split is by field.

The stain target is the mean of the home lab's training fields' LAB statistics; each source's own
statistics are kept beside it (cells.json) for the check that makes blasts look like another source.
The high-resolution sources' TRAINING crops are degraded once (downsampled further and back, blurred,
JPEG at the home lab's quality ~95), so sharpness is not the cue that tells a normal cell (other labs)
from a blast (home lab); validation and test crops stay exactly what the device would see.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from edge_all.cells.finder import find_white_cells
from edge_all.cells.resample import to_scale
from edge_all.cells.stain import LabStatistics, StainNormaliser, lab_statistics
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import Stain
from edge_all.runtime.images import load_rgb
from edge_all.triage.cells import crop_at
from training.dataset import (
    Dataset,
    DatasetError,
    ImageRecord,
    Skipped,
    Split,
    discover,
    make_split,
)

UM_PER_PX = 0.55  # the bundle's scale: the home lab's fields (about 0.54) are not upsampled
CROP_PX = 64  # 35 um: a white cell (10-20 um) and its neighbourhood
HOME_UM_PER_PX = 0.54
PBC_UM_PER_PX = 0.094
CHULA_UM_PER_PX = 0.1  # median of edge_all.cells.scale's estimates on 9 of 15 fields (0.089-0.124)
HOME_JPEG_QUALITY = 95  # the home lab's quantisation tables (2, 1, 1, 2, ...) are quality ~95
CELL_CLASSES = (
    "Benign",
    "Early",
    "Pre",
    "Pro",
    "neutrophil",
    "lymphocyte",
    "monocyte",
    "eosinophil",
    "basophil",
    "other_refer",
    "platelet",
)
LABEL_ROLES = {
    "Benign": "not_all_like",
    "Early": "all_like",
    "Pre": "all_like",
    "Pro": "all_like",
    "neutrophil": "not_all_like",
    "lymphocyte": "not_all_like",
    "monocyte": "not_all_like",
    "eosinophil": "not_all_like",
    "basophil": "not_all_like",
    "other_refer": "refer",
    "platelet": "not_a_white_cell",
}
PBC_CLASSES = {
    "neutrophil": "neutrophil",
    "lymphocyte": "lymphocyte",
    "monocyte": "monocyte",
    "eosinophil": "eosinophil",
    "basophil": "basophil",
    "ig": "other_refer",
    "erythroblast": "other_refer",
    "platelet": "platelet",
}
SOURCES = ("home", "pbc", "chula")
CELLS_FILE = "cells.json"  # in the run dir: what convert writes into a format-3 bundle
CROPS_DIR = "cells"  # in the run dir: the crops, ROOT/<source>/<class>/<name>.png


@dataclass(frozen=True)
class CellItem:
    """One cell to cut: its field, the field's scale, the cell's centre (None: the field's centre)."""

    source: str
    path: Path
    name: str  # the crop's file stem
    label: str
    part: str
    group: str
    um_per_px: float
    centre: tuple[float, float] | None


def _home_items(root: Path, split: Split) -> list[CellItem]:
    items = []
    for record in split.images:
        path = split.path(record)
        segmented = root / "Segmented" / Path(record.file).relative_to("Original")
        centres = home_centres(load_rgb(path), load_rgb(segmented) if segmented.is_file() else None)
        stem = Path(record.file).stem
        for i, centre in enumerate(centres):
            items.append(
                CellItem("home", path, f"{stem}_{i}", record.label, record.part, record.group,
                         HOME_UM_PER_PX, centre)
            )  # fmt: skip
    return items


def home_centres(rgb: np.ndarray, segmented: np.ndarray | None) -> list[tuple[float, float] | None]:
    """The labelled cells of a home-lab field: the device's finder's cells that its Segmented copy
    keeps (at least 30% of the box painted: the copy also keeps speckles of red-cell rims), at most
    three; else the largest kept piece's centroid; else the field's centre (None)."""
    from scipy import ndimage

    if segmented is None:
        return [None]
    mask = ndimage.binary_opening(segmented.astype(np.int32).sum(axis=2) > 30, iterations=2)
    found = sorted(find_white_cells(rgb, HOME_UM_PER_PX), key=lambda c: -c.nucleus_um2)
    kept = []
    for cell in found:
        x0, y0 = max(0, int(cell.x0)), max(0, int(cell.y0))
        box = mask[y0 : int(np.ceil(cell.y1)), x0 : int(np.ceil(cell.x1))]
        if box.size and box.mean() >= 0.3:
            kept.append((float(cell.cx), float(cell.cy)))
    if kept:
        return kept[:3]
    pieces, n = ndimage.label(mask)
    if n == 0:
        return [None]
    sizes = ndimage.sum(mask, pieces, range(1, n + 1))
    if sizes.max() < 50:
        return [None]
    cy, cx = ndimage.center_of_mass(mask, pieces, int(np.argmax(sizes)) + 1)
    return [(float(cx), float(cy))]


def _split_plain(root: Path, records: list[ImageRecord], seed: int, test: float, val: float) -> Split:
    """training.dataset's stratified, seeded, leak-free split for a source that is not the Kaggle layout."""
    dataset = Dataset(root=root, classes=CELL_CLASSES, images=records)
    return make_split(dataset, test_fraction=test, val_fraction=val, seed=seed)


def _pbc_items(root: Path, seed: int, test: float, val: float) -> list[CellItem]:
    records = []
    for folder, label in PBC_CLASSES.items():
        for path in sorted((root / folder).glob("*.jpg")):
            records.append(ImageRecord(path.relative_to(root).as_posix(), label, sha256_file(path), "plain"))
    if not records:
        raise DatasetError(f"{root}: no pbc-normal images (expected <class>/*.jpg)")
    split = _split_plain(root, records, seed, test, val)
    return [
        CellItem("pbc", split.path(r), Path(r.file).stem, r.label, r.part, r.group, PBC_UM_PER_PX, None)
        for r in split.images
    ]


def _chula_items(root: Path, seed: int, test: float, val: float) -> list[CellItem]:
    boxes: dict[str, list[tuple[str, tuple[float, float]]]] = {}
    with open(root / "boxes.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            x0, y0, x1, y1 = (float(row[k]) for k in ("x0", "y0", "x1", "y1"))
            boxes.setdefault(row["file"], []).append((row["cls"], ((x0 + x1) / 2, (y0 + y1) / 2)))
    # one record per field (its first box's class): a field's cells all fall on one side
    records = [
        ImageRecord(file, cells[0][0], sha256_file(root / file), "plain")
        for file, cells in sorted(boxes.items())
    ]
    split = _split_plain(root, records, seed, test, val)
    items = []
    for r in split.images:
        for i, (label, centre) in enumerate(boxes[r.file]):
            stem = f"{Path(r.file).stem}_{i}"
            items.append(
                CellItem("chula", split.path(r), stem, label, r.part, r.group, CHULA_UM_PER_PX, centre)
            )
    return items


def _at_scale(item: CellItem) -> tuple[np.ndarray, tuple[float, float]]:
    """The item's field at the bundle's scale, and the cell's centre in its pixels."""
    rgb = load_rgb(item.path)
    at = to_scale(rgb, item.um_per_px, UM_PER_PX)
    h, w = rgb.shape[:2]
    cx, cy = item.centre if item.centre is not None else (w / 2, h / 2)
    return at.rgb, (cx * at.factor, cy * at.factor)


def degrade(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crop from a sharp, high-resolution source made as soft as the home lab's camera: downsampled
    further and back, blurred a little, JPEG at the home lab's quality."""
    size = crop.shape[1], crop.shape[0]
    image = Image.fromarray(crop)
    factor = rng.uniform(0.55, 0.9)
    small = (max(8, round(size[0] * factor)), max(8, round(size[1] * factor)))
    image = image.resize(small, Image.Resampling.BOX).resize(size, Image.Resampling.BILINEAR)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.7)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=HOME_JPEG_QUALITY)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _mean_statistics(stats: list[LabStatistics]) -> LabStatistics:
    means = np.mean([s.means for s in stats], axis=0)
    stds = np.mean([s.stds for s in stats], axis=0)
    return LabStatistics(tuple(float(v) for v in means), tuple(float(v) for v in stds))  # type: ignore[arg-type]


def reinhard_stain(target: LabStatistics) -> Stain:
    return Stain("reinhard", "torchstain (numpy)", target.means, target.stds)


def build_cell_split(
    data: Path, out: Path, seed: int, test_fraction: float, val_fraction: float, log: Callable[[str], None]
) -> Split:
    """Cut every source's crops into OUT/cells, write OUT/cells.json, and return their split.

    DATA holds ALL/ (Original and Segmented), pbc-normal/ and chula-fields/.
    """
    data = Path(data)
    for name in ("ALL", "pbc-normal", "chula-fields"):
        if not (data / name).is_dir():
            raise DatasetError(
                f"{data}: no {name}/ folder (a cell run reads ALL, pbc-normal and chula-fields)"
            )
    home_split = make_split(
        discover(data / "ALL", include_segmented=True),
        test_fraction,
        val_fraction,
        seed,
        include_segmented=False,
    )
    items = (
        _home_items(data / "ALL", home_split)
        + _pbc_items(data / "pbc-normal", seed, test_fraction, val_fraction)
        + _chula_items(data / "chula-fields", seed, test_fraction, val_fraction)
    )
    log(f"cutting {len(items)} cell crops at {UM_PER_PX} um/px, {CROP_PX} px...")
    fields: list[tuple[CellItem, np.ndarray, tuple[float, float]]] = []
    skipped = list(home_split.skipped)
    for item in items:
        try:
            rgb, centre = _at_scale(item)
        except Exception as exc:  # an unreadable file: skipped by name, the rest go on
            skipped.append(Skipped(f"{item.source}/{item.path.name}", str(exc)))
            continue
        fields.append((item, rgb, centre))
    stats = {
        source: _mean_statistics(
            [lab_statistics(rgb) for it, rgb, _ in fields if it.source == source and it.part == "train"]
        )
        for source in SOURCES
    }
    normalise = StainNormaliser(reinhard_stain(stats["home"]))
    crops_root = out / CROPS_DIR
    records = []
    for item, rgb, (cx, cy) in fields:
        crop = crop_at(normalise(rgb), cx, cy, CROP_PX)
        if item.part == "train" and item.source != "home":
            crop = degrade(crop, np.random.default_rng([seed, *item.name.encode()]))
        rel = f"{item.source}/{item.label}/{item.name}.png"
        path = crops_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(crop).save(path)
        records.append(
            ImageRecord(rel, item.label, sha256_file(path), "plain", item.part, f"{item.source}:{item.group}")
        )
    split = Split(
        root=crops_root.resolve(),
        classes=CELL_CLASSES,
        images=records,
        seed=seed,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        include_segmented=False,
        skipped=skipped,
        duplicates_dropped=list(home_split.duplicates_dropped),
    )
    write_cells_file(out, stats, split)
    return split


def cells_manifest_part(target: LabStatistics) -> dict:
    """The keys a format-3 bundle takes from a cell run (edge_all.runtime.bundle)."""
    return {
        "reads": "cells",
        "scale": {"um_per_px": UM_PER_PX},
        "cell_crop": {"size_px": CROP_PX},
        "stain": {
            "method": "reinhard",
            "library": "torchstain (numpy)",
            "target_means": list(target.means),
            "target_stds": list(target.stds),
        },
        "label_roles": dict(LABEL_ROLES),
    }


def write_cells_file(out: Path, stats: dict[str, LabStatistics], split: Split) -> None:
    counts: dict[str, dict[str, int]] = {}
    for r in split.images:
        source = r.file.split("/", 1)[0]
        key = f"{source}/{r.part}"
        counts.setdefault(key, {})
        counts[key][r.label] = counts[key].get(r.label, 0) + 1
    doc = {
        **cells_manifest_part(stats["home"]),
        "sources": {
            "home": {"folder": "ALL/Original", "um_per_px": HOME_UM_PER_PX},
            "pbc": {"folder": "pbc-normal", "um_per_px": PBC_UM_PER_PX},
            "chula": {"folder": "chula-fields", "um_per_px": CHULA_UM_PER_PX},
        },
        "source_stain": {s: {"means": list(v.means), "stds": list(v.stds)} for s, v in stats.items()},
        "counts": counts,
        "degraded": "training crops of pbc and chula: downsampled x0.55-0.9 and back, blur 0.2-0.7 px, "
        f"JPEG q{HOME_JPEG_QUALITY}",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / CELLS_FILE).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def read_cells_file(run_dir: Path) -> dict | None:
    """A cell run's cells.json, None for a whole-field run."""
    path = Path(run_dir) / CELLS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
