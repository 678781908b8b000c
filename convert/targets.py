"""What `edge-all convert --target` can make: one table, a row per target, in the spirit of Ultralytics'
exporter table. `tflite` is convert's own path (convert/convert.py); every other target names the
function that makes it (`converter`), in a module beside it that takes the same run dir and checks
its model against the float one before writing, and is imported only when that target is chosen."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import typer

from edge_all.errors import UsageError


@dataclass(frozen=True)
class Target:
    name: str
    what: str  # the device it is for
    writes: str
    needs: str
    # "module:function" that makes it: f(run_dir, out, calibration_samples, max_drop, force,
    # show_progress) -> a result with `out`, `report` (its JSON) and `summary()`; None: convert's own.
    converter: str | None = None


TARGETS = {
    "tflite": Target(
        "tflite",
        "the CPU (int8, float16, float32 TFLite) and, with --edgetpu, a Coral Edge TPU",
        "a bundle directory (model.tflite, labels.txt, bundle.json)",
        "the train extra",
    ),
    "imx500": Target(
        "imx500",
        "the Raspberry Pi AI Camera (Sony IMX500), quantized with Sony's Model Compression Toolkit",
        "packerOut.zip (for imx500-package on a Pi), the converter's memory report, imx500.json",
        "Sony's Edge-MDT in its own Python environment ($EDGE_ALL_IMX500_PYTHON)",
        "convert.imx500:convert_imx500",
    ),
}
TARGET_HELP = "; ".join(f"{t.name}: {t.what}" for t in TARGETS.values())


def convert_target(
    target: str,
    run_dir: Path,
    out: Path | None,
    calibration_samples: int,
    max_drop: float,
    force: bool,
    as_json: bool,
    tflite_only: list[str],
) -> None:
    """`edge-all convert --target TARGET` for a target other than tflite: its row's converter, writing
    into --out (default: RUN_DIR/TARGET)."""
    row = TARGETS.get(target)
    if row is None or row.converter is None:
        raise UsageError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    if tflite_only:
        raise UsageError(f"{' and '.join(tflite_only)} apply to --target tflite only")
    module, _, function = row.converter.partition(":")
    converter = getattr(importlib.import_module(module), function)
    result = converter(
        run_dir, out or run_dir / row.name, calibration_samples, max_drop, force, show_progress=not as_json
    )
    if as_json:
        typer.echo(json.dumps({"out": str(result.out), **result.report}, indent=2))
        return
    typer.echo(result.summary())
    typer.echo(f"written to {result.out}; next, on a Raspberry Pi: {result.report['next_step']}", err=True)
