"""What reading a 1920x1080 frame cell by cell costs, stage by stage, on one thread.

    .venv/bin/python benchmarks/cells_pipeline.py [--model BUNDLE] [--repeats 7] [--json out.json]

The frame is a synthetic smear (tests/cells/fields.py) at 0.1 um/px with 5 white cells, saved as a JPEG
(quality 90) and read back as a file would be. Stages: decode (the JPEG to RGB), shrink (area
resampling to 0.55 um/px), quality (the gate at that scale), find (the white-cell finder on the
shrunk frame), stain (Reinhard, torchstain's numpy backend, when importable), crops (cell-centred
crops resized to the model's input), classify k = 1, 2, 5 crops in one batched invoke() against k
single invokes, and store (one field and its k cells committed to SQLite). --model defaults to the
shipped reference bundle (a whole-field MobileNetV2 at 224x224: its network stands in for the cell
model until one ships; a format-3 bundle is read with its own crop and input size). Medians in ms.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from edge_all.cells.finder import find_white_cells
from edge_all.cells.resample import to_scale
from edge_all.cells.stain import StainError, StainNormaliser
from edge_all.clock import now_iso
from edge_all.results.judged import JudgedCell
from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo
from edge_all.runtime.bundle import Stain
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import load_rgb
from edge_all.runtime.models import reference_bundle
from edge_all.triage.cells import crop_at
from edge_all.triage.quality import assess
from edge_all.triage.thresholds import QualityThresholds
from tests.cells.fields import synthetic_field

SOURCE_UM_PER_PX = 0.1
BUNDLE_UM_PER_PX = 0.55
CROP_PX = 64
STAIN = Stain("reinhard", "torchstain", (87.13, 2.21, -9.24), (11.97, 10.44, 15.32))  # bundle3.md's example


def median_ms(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = Classifier.load(args.model or reference_bundle(), threads=1)
    manifest = model.manifest
    crop_px = manifest.cell_crop.size_px if manifest and manifest.cell_crop else CROP_PX
    field = synthetic_field(1, um_per_px=SOURCE_UM_PER_PX, white_cells=5, lobed=False, size_um=(108.0, 192.0))
    folder = Path(tempfile.mkdtemp())
    jpeg = folder / "frame.jpg"
    buffer = io.BytesIO()
    Image.fromarray(field.rgb).save(buffer, "JPEG", quality=90)
    jpeg.write_bytes(buffer.getvalue())
    r = args.repeats
    stages: dict[str, float] = {}
    stages["decode"] = median_ms(lambda: load_rgb(jpeg), r)
    rgb = load_rgb(jpeg)
    stages["shrink"] = median_ms(lambda: to_scale(rgb, SOURCE_UM_PER_PX, BUNDLE_UM_PER_PX), r)
    at = to_scale(rgb, SOURCE_UM_PER_PX, BUNDLE_UM_PER_PX)
    gate = QualityThresholds()
    stages["quality"] = median_ms(lambda: assess(at.rgb, gate, at.um_per_px), r)
    stages["find"] = median_ms(lambda: find_white_cells(at.rgb, at.um_per_px), r)
    cells = find_white_cells(at.rgb, at.um_per_px)
    try:
        normaliser = StainNormaliser(manifest.stain if manifest and manifest.stain else STAIN)
        stages["stain"] = median_ms(lambda: normaliser(at.rgb), r)
    except StainError as exc:
        print(f"stain: not measured ({exc})")
    stages["crops"] = median_ms(
        lambda: np.stack([model.prepare(crop_at(at.rgb, c.cx, c.cy, crop_px)) for c in cells]), r
    )
    crops = np.stack([model.prepare(crop_at(at.rgb, c.cx, c.cy, crop_px)) for c in cells])
    while len(crops) < 5:
        crops = np.concatenate([crops, crops])[:5]
    classify = {}
    for k in (1, 2, 5):
        batch = np.ascontiguousarray(crops[:k])
        model.predict_batch(batch)  # allocate for k once: a slide's fields mostly keep one size
        batched = median_ms(lambda b=batch: model.predict_batch(b), r)
        single = median_ms(lambda b=batch: [model.predict_pixels(np.ascontiguousarray(x)) for x in b], r)
        classify[k] = {"batched_ms": batched, "k_invokes_ms": single, "ratio": round(batched / single, 3)}
    one_invoke = classify[1]["k_invokes_ms"]
    with ResultsStore.open(folder / "results.db") as store:
        session = store.start_session(
            SessionInfo(now_iso(), "bench", "S", "m", "0" * 64, list(model.labels), 0.6, None, "bench")
        )
        judged = tuple(
            JudgedCell(tuple(map(int, c.pixels())), model.labels[0], 0.9, "cleared") for c in cells
        )
        counter = iter(range(10**6))

        def store_one() -> None:
            store.add(
                CaptureRecord(
                    session,
                    now_iso(),
                    "S",
                    "bench",
                    next(counter),
                    "frame.jpg",
                    "classified",
                    "0" * 64,
                    label=model.labels[0],
                    confidence=0.9,
                    cells=judged,
                )  # fmt: skip
            )

        stages["store"] = median_ms(store_one, r)
    added = sum(stages[s] for s in ("shrink", "quality", "find", "stain", "crops") if s in stages)
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", {platform.python_implementation()} {platform.python_version()}, one thread",
        "model": str(model.model_path),
        "model_input": list(model.input.shape),
        "frame": f"{rgb.shape[1]}x{rgb.shape[0]} JPEG q90 at {SOURCE_UM_PER_PX} um/px, shrunk to "
        f"{at.rgb.shape[1]}x{at.rgb.shape[0]} at {at.um_per_px:.3f} um/px",
        "white_cells_found": len(cells),
        "stages_ms": stages,
        "classify_ms": classify,
        "find_over_one_invoke": round(stages["find"] / one_invoke, 3),
        "added_over_invokes": {k: round(added / classify[k]["k_invokes_ms"], 3) for k in classify},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
