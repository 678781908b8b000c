"""`edge-all convert`: a training run dir -> a checked TFLite bundle (int8 by default).

Only typer and the standard library at module level: TensorFlow loads inside the command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from convert.config import ConvertConfig
from convert.targets import TARGET_HELP, convert_target
from edge_all.errors import FileError, UsageError
from edge_all.exit_codes import EPILOG
from edge_all.extras import require_extra

HELP = (
    "Convert a trained model to TFLite, fit what the device needs beside it, check it against the float "
    "model, write a bundle.\n\n"
    "Beside the model the bundle carries a referral detector (referral.npz: refers images unlike the "
    "training images, tuned to refer --referral-rate of the validation images), a calibration temperature "
    "and, for GAP heads, the weights for heat maps (heatmap.npz). It is published only when the converted "
    "model loses at most --max-drop percentage points of accuracy on the run's test split (or on every "
    "image of --data), and no more than --max-robustness-drop (beyond chance) under any condition of the "
    "robustness battery. Otherwise convert exits with 4 and writes no bundle, only the report, beside "
    "the target as TARGET.accuracy_check.json."
)


def convert(
    run_dir: Annotated[
        Path, typer.Argument(help="Training run dir (model.keras, split.json).", show_default=False)
    ],
    int8: Annotated[
        bool, typer.Option("--int8", help="Full-integer int8 (the default; Edge TPU ready).")
    ] = False,
    float16: Annotated[bool, typer.Option("--float16", help="float16 weights, float32 I/O.")] = False,
    float32: Annotated[bool, typer.Option("--float32", help="Plain float32 TFLite.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Bundle dir to write.", show_default="RUN_DIR/bundle-PRECISION"),
    ] = None,
    io_dtype: Annotated[
        str, typer.Option("--io-dtype", help="int8 model's input/output type: uint8 or int8.")
    ] = ConvertConfig.io_dtype,
    calibration_samples: Annotated[
        int, typer.Option("--calibration-samples", min=1, help="Training images for int8 calibration.")
    ] = ConvertConfig.calibration_samples,
    max_drop: Annotated[
        float, typer.Option("--max-drop", help="Accuracy (percentage points) the converted model may lose.")
    ] = ConvertConfig.max_drop,
    max_robustness_drop: Annotated[
        float,
        typer.Option(
            "--max-robustness-drop",
            help="Accuracy (percentage points, beyond chance) it may lose under each battery condition.",
        ),
    ] = ConvertConfig.max_robustness_drop,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Check on every image of this labelled dataset folder, not the test split."
        ),
    ] = None,
    referral_rate: Annotated[
        float,
        typer.Option(
            "--referral-rate", help="Share of the validation images the referral detector may refer."
        ),
    ] = ConvertConfig.referral_rate,
    referral_dimensions: Annotated[
        int, typer.Option("--referral-dimensions", min=1, help="Principal components the detector models.")
    ] = ConvertConfig.referral_dimensions,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="The bundle's default confidence threshold: below it a result is 'uncertain'.",
        ),
    ] = ConvertConfig.confidence_threshold,
    ood: Annotated[
        Path | None,
        typer.Option(
            "--ood",
            help="A folder of images from other laboratories: report how many the bundle refers "
            "(not used for fitting).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing bundle at the target.")] = False,
    edgetpu: Annotated[
        bool, typer.Option("--edgetpu", help="Also compile model_edgetpu.tflite (needs edgetpu_compiler).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome and the accuracy check as JSON.")
    ] = False,
    target: Annotated[str, typer.Option("--target", help=f"What to make. {TARGET_HELP}.")] = "tflite",
) -> None:
    """Convert RUN_DIR's model, check it against the float model, publish the bundle (see HELP)."""
    require_extra("train", ("tensorflow", "keras"), "`edge-all convert`")
    chosen = [name for name, flag in (("int8", int8), ("float16", float16), ("float32", float32)) if flag]
    if target != "tflite":
        os.environ["KERAS_BACKEND"] = "tensorflow"
        tflite_only = [f"--{c}" for c in chosen] + ["--edgetpu"] * edgetpu + ["--data"] * (data is not None)
        args = (run_dir, out, calibration_samples, max_drop, force, as_json, tflite_only)
        return convert_target(target, *args)
    if len(chosen) > 1:
        raise UsageError(f"choose one precision, not {' and '.join('--' + c for c in chosen)}")
    precision = chosen[0] if chosen else ConvertConfig.precision
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The TFLite converter needs Keras on TensorFlow; a model.keras trained on JAX or PyTorch loads fine.
    os.environ["KERAS_BACKEND"] = "tensorflow"

    from convert.convert import convert_run
    from convert.errors import AccuracyGateFailed
    from convert.table import format_report, gate_failure

    config = ConvertConfig(  # an option combination convert cannot honour is a bad command line (exit 2)
        run_dir=run_dir,
        out=out,
        precision=precision,
        io_dtype=io_dtype,
        calibration_samples=calibration_samples,
        max_drop=max_drop,
        max_robustness_drop=max_robustness_drop,
        data=data,
        force=force,
        edgetpu=edgetpu,
        referral_rate=referral_rate,
        referral_dimensions=referral_dimensions,
        confidence_threshold=threshold,
        ood=ood,
    )
    try:
        result = convert_run(config)
    except OSError as exc:
        raise FileError(f"{exc.filename or run_dir}: {exc.strerror or exc}") from None

    if as_json:
        summary = {
            "published": result.published,
            "bundle_dir": str(result.bundle_dir),
            "report_path": str(result.report_path),
            "warnings": result.warnings,
            "accuracy_check": result.report,
        }
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(format_report(result.report))
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not result.published:
        raise AccuracyGateFailed(
            f"{gate_failure(result.report)}; no bundle written to {result.bundle_dir}; "
            f"report: {result.report_path}"
        )
    if result.edgetpu is not None and result.edgetpu.compiled:
        typer.echo(result.edgetpu.message, err=True)
    typer.echo(f"bundle written to {result.bundle_dir} (report: {result.report_path})", err=True)


def register(app: typer.Typer) -> None:
    """Add `edge-all convert` to the app."""
    app.command("convert", help=HELP, epilog=EPILOG)(convert)
