"""The white-cell finder measured: recall on chula-fields' boxes, precision on synthetic fields.

    .venv/bin/python benchmarks/cells_finder.py [--data ../shared/data/chula-fields] [--draw DIR]

chula-fields (150 fields of another laboratory, 1440x900, one box on one white cell each, so recall
only) is read at the scale its README gives (a red cell about 80 px: 0.094 um/px) and, as a second
row, at the scale estimated from its own red cells. A box is found when a found cell's nucleus
centre lies inside it; IoU is reported beside. --draw writes each field with its found boxes (yellow)
and the annotated box (green) for checking by eye. Synthetic fields (tests/cells/fields.py) have
every white cell, platelet and red cell at a known place: precision and recall there.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from edge_all.cells.finder import CellBox, find_white_cells
from edge_all.cells.resample import to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX, estimate_scale

CHULA_UM_PER_PX = 0.094  # the README: a red cell about 70-80 px of 7.5 um


def iou(a: CellBox, b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a.x1, b[2]) - max(a.x0, b[0]))
    iy = max(0.0, min(a.y1, b[3]) - max(a.y0, b[1]))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def chula(data: Path, estimated: bool, draw: Path | None, draw_every: int) -> dict:
    rows = list(csv.DictReader((data / "boxes.csv").open()))
    by_file: dict[str, list[tuple[float, ...]]] = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1")))
    found = boxes_with_scale = 0
    ious, counts, seconds, unknown = [], [], [], 0
    for n, (name, boxes) in enumerate(sorted(by_file.items())):
        rgb = np.asarray(Image.open(data / name).convert("RGB"))
        um = CHULA_UM_PER_PX
        if estimated:
            scale = estimate_scale(rgb)
            if not scale.known:
                unknown += 1
                counts.append(0)
                continue
            um = scale.um_per_px
        start = time.perf_counter()
        at = to_scale(rgb, um, REFERENCE_UM_PER_PX)
        cells = [c.scaled(at.factor) for c in find_white_cells(at.rgb, at.um_per_px)]
        seconds.append(time.perf_counter() - start)
        counts.append(len(cells))
        boxes_with_scale += len(boxes)
        for box in boxes:
            hits = [c for c in cells if box[0] <= c.cx <= box[2] and box[1] <= c.cy <= box[3]]
            found += bool(hits)
            ious.append(max((iou(c, box) for c in hits), default=0.0))
        if draw is not None and n % draw_every == 0:
            picture = Image.fromarray(rgb)
            pen = ImageDraw.Draw(picture)
            for box in boxes:
                pen.rectangle(box, outline=(0, 200, 0), width=5)
            for c in cells:
                pen.rectangle((c.x0, c.y0, c.x1, c.y1), outline=(255, 220, 0), width=4)
            picture.resize((720, 450)).save(draw / Path(name).with_suffix(".png").name)
    ious_a = np.array(ious)
    return {
        "scale": "estimated from the red cells" if estimated else f"given ({CHULA_UM_PER_PX} um/px)",
        "fields": len(by_file),
        "boxes": len(rows),
        "found": found,
        "recall": round(found / len(rows), 4),
        "scale_unknown_fields": unknown,
        "boxes_in_fields_with_a_scale": boxes_with_scale,
        "iou_median": round(float(np.median(ious_a)), 3),
        "iou_at_least_0.5": round(float((ious_a >= 0.5).mean()), 4),
        "cells_per_field": {"mean": round(float(np.mean(counts)), 2), "max": int(max(counts))},
        "find_ms_per_field_median": round(1000 * float(np.median(seconds)), 1),
    }


def synthetic(fields: int) -> dict:
    from tests.cells.fields import synthetic_field

    tp = fp = fn = 0
    for seed in range(fields):
        field = synthetic_field(seed, um_per_px=[0.1, 0.25, 0.55][seed % 3], white_cells=1 + seed % 5)
        at = to_scale(field.rgb, field.um_per_px, REFERENCE_UM_PER_PX)
        cells = [c.scaled(at.factor) for c in find_white_cells(at.rgb, at.um_per_px)]
        matched = set()
        for c in cells:
            hit = [
                i
                for i, (x, y, r) in enumerate(field.white_cells)
                if (c.cx - x) ** 2 + (c.cy - y) ** 2 <= r * r
            ]
            if hit and hit[0] not in matched:
                matched.add(hit[0])
                tp += 1
            else:
                fp += 1
        fn += len(field.white_cells) - len(matched)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"fields": fields, "white_cells": tp + fn, "found": tp, "false": fp,
            "precision": round(precision, 4), "recall": round(recall, 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/chula-fields"))
    parser.add_argument("--draw", type=Path)
    parser.add_argument("--draw-every", type=int, default=15)
    parser.add_argument("--synthetic", type=int, default=60)
    parser.add_argument("--estimated", action="store_true", help="also read chula at its estimated scale")
    parser.add_argument("--no-given", action="store_true", help="skip chula at its given scale")
    args = parser.parse_args()
    if args.draw:
        args.draw.mkdir(parents=True, exist_ok=True)
    report = {"synthetic": synthetic(args.synthetic)}
    if args.data.is_dir():
        if not args.no_given:
            report["chula_given_scale"] = chula(args.data, False, args.draw, args.draw_every)
        if args.estimated:
            report["chula_estimated_scale"] = chula(args.data, True, None, args.draw_every)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
