"""What `edge-all commission` costs: N synthetic 640x480 fields (JPEG, quality 92) of a normal smear,
copied into a site folder, measured (red-cell scale, quality at the reference scale, LAB statistics)
and gathered into a profile. The issue's target: 50 such fields in under a minute.

    .venv/bin/python benchmarks/commission.py [--fields 50] [--um-per-px 0.08]

The fields are tests/cells/smears.py's (a red cell 7.5 um across: 94 px at 0.08 um/px, as in the
640x480 fields of issue 22). Prints one markdown row: fields, seconds, seconds per field, the scale
found against the drawn one.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from PIL import Image

from edge_all.triage.commissioning import commission, store_images
from edge_all.triage.thresholds import QualityThresholds
from tests.cells.smears import draw_field


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=50)
    parser.add_argument("--um-per-px", type=float, default=0.08)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="commission-bench-") as tmp:
        folder = Path(tmp) / "fields"
        folder.mkdir()
        for i in range(args.fields):
            rgb = draw_field(args.um_per_px, size=(640, 480), seed=i)
            Image.fromarray(rgb).save(folder / f"field-{i:02d}.jpg", quality=92)
        start = time.perf_counter()
        stored = store_images(sorted(folder.iterdir()), Path(tmp) / "site", print)
        done = commission(stored, "0" * 64, QualityThresholds())
        seconds = time.perf_counter() - start
    scale = done.profile.scale
    print(f"machine: {platform.machine()} {platform.processor() or ''}".strip())
    print("| fields | seconds | per field | scale found (drawn) | spread | verdict |")
    print("|---:|---:|---:|---|---:|---|")
    verdict = "ready" if done.profile.verdict.ready else "not ready"
    print(
        f"| {args.fields} | {seconds:.1f} | {seconds / args.fields:.2f} | {scale.um_per_px:.4f} "
        f"({args.um_per_px:g}) | {scale.spread:.1%} | {verdict} |"
    )


if __name__ == "__main__":
    main()
