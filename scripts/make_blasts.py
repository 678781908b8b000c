"""Cut the home lab's blasts.npz into a cell bundle and record its sha256 in bundle.json.

    python scripts/make_blasts.py ../shared/data/ALL BUNDLE_DIR [--count 300] [--seed 0]

The blasts are the ALL dataset's Early, Pre and Pro fields of the TEST split only: training.dataset's
seeded split (test 20% per class, validation 10%, seed 0: the split the cell model m22 trained with,
duplicates and a specimen's Original/Segmented copies kept on one side). Each field is read at the
home lab's scale (0.54 um/px) and resampled to the bundle's with the runtime's own code; its cells are
the device finder's cells that the Segmented copy paints (at least 30% of the box, at most three per
field; else the largest painted piece; else the field's centre), as m22's crop builder labels them.
Each crop is `cell_crop.size_px` square at the bundle's scale, NOT stain-normalised (commissioning gives
it the site's stain). Beside them: the home lab's LAB statistics, focus and noise, each the median over
the fields the crops came from, measured at the reference scale (edge_all.triage.blasts).
bundle.json is rewritten through the product's own writer (edge_all.runtime.bundle.write_manifest).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_all.cells.resample import to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX
from edge_all.cells.stain import LabStatistics, lab_statistics
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import BLASTS_FILE, read_manifest, write_manifest
from edge_all.runtime.images import load_rgb
from edge_all.triage.blasts import HomeBlasts, noise_level
from edge_all.triage.cells import crop_at
from edge_all.triage.quality import measure
from training.cells_data import HOME_UM_PER_PX, home_centres
from training.dataset import discover, make_split

BLAST_CLASSES = ("Early", "Pre", "Pro")


def centres(rgb: np.ndarray, segmented: np.ndarray | None) -> list[tuple[float, float]]:
    """The labelled cells of a home-lab field by the cell model's own rule (training.cells_data), the
    field's centre where that rule has none."""
    h, w = rgb.shape[:2]
    return [centre or (w / 2, h / 2) for centre in home_centres(rgb, segmented)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the ALL dataset (Original/ and Segmented/)")
    parser.add_argument("bundle", type=Path, help="a format-3 cell bundle to add blasts.npz to")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    manifest = read_manifest(args.bundle)
    if not manifest.reads_cells or manifest.scale is None or manifest.cell_crop is None:
        raise SystemExit(f"{args.bundle}: not a cell bundle (format 3, reads cells)")
    split = make_split(discover(args.data, include_segmented=True), 0.2, 0.1, 0, include_segmented=False)
    test = [r for r in split.part("test") if r.label in BLAST_CLASSES]
    rng = np.random.default_rng(args.seed)
    crops, labs, focus, noise = [], [], [], []
    for index in rng.permutation(len(test)):
        if len(crops) >= args.count:
            break
        record = test[index]
        path = split.path(record)
        segmented = args.data / "Segmented" / Path(record.file).relative_to("Original")
        rgb = load_rgb(path)
        at = to_scale(rgb, HOME_UM_PER_PX, manifest.scale.um_per_px)
        for cx, cy in centres(rgb, load_rgb(segmented) if segmented.is_file() else None):
            crops.append(crop_at(at.rgb, cx * at.factor, cy * at.factor, manifest.cell_crop.size_px))
        reference = to_scale(rgb, HOME_UM_PER_PX, REFERENCE_UM_PER_PX).rgb
        labs.append(lab_statistics(reference))
        focus.append(measure(rgb, HOME_UM_PER_PX).focus)
        noise.append(noise_level(reference))
    crops = crops[: args.count]
    median = lambda values: tuple(float(v) for v in np.median(values, axis=0))  # noqa: E731
    home = LabStatistics(median([s.means for s in labs]), median([s.stds for s in labs]))  # type: ignore[arg-type]
    blasts = HomeBlasts(
        np.stack(crops).astype(np.uint8), home, float(np.median(focus)), float(np.median(noise))
    )
    target = args.bundle / BLASTS_FILE
    blasts.save(target)
    write_manifest(args.bundle, replace(manifest, blasts_sha256=sha256_file(target)))
    read_manifest(args.bundle)  # verified as a device will
    print(
        f"{target}: {len(crops)} crops from {len(labs)} test-split fields; home focus {blasts.focus:.1f}, "
        f"noise {blasts.noise:.2f}; sha256 {sha256_file(target)}"
    )


if __name__ == "__main__":
    main()
