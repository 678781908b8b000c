"""`convert_run`: a training run dir in, a checked bundle dir out (or a report saying why not).

Steps, in order: check the run dir and the target (cheap, fails fast); load the float model;
calibrate on training images (int8); convert; score the float model and the converted model (through
the device runtime) on the same images; publish the bundle only when the accuracy gate passes.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import edge_all
from convert import accuracy, calibration, publish, tflite
from convert.config import ConvertConfig
from convert.edgetpu import EdgeTpuOutcome, compile_for_edgetpu
from convert.errors import ConvertError
from convert.source import RunSource, load_float_model, model_input_size, open_source
from edge_all.bundle import EDGETPU_MODEL_FILE, BundleManifest, write_manifest
from edge_all.digest import sha256_file
from edge_all.tensors import looks_like_probabilities, softmax

FLOAT_MODEL_NOTE = "float_model_bytes is the size of the float32 TFLite conversion of model.keras"


@dataclass
class ConvertResult:
    """What happened: `published` is False when the gate failed (then report_path is beside the target)."""

    bundle_dir: Path  # the bundle, or where it would have gone when the gate failed
    published: bool
    report: dict[str, Any]
    report_path: Path
    edgetpu: EdgeTpuOutcome | None = None
    warnings: list[str] = field(default_factory=list)


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


def _overlap_note(config: ConvertConfig, source: RunSource) -> list[str]:
    """A --data folder that is the run's own dataset puts training images into the check."""
    if config.data is not None and config.data.resolve() == source.split.root.resolve():
        return [
            f"{config.data} is the dataset this run was trained on: the check includes its training "
            "images, so both accuracies are inflated (the drop between them is still meaningful)"
        ]
    return []


def _eval_items(
    config: ConvertConfig, source: RunSource
) -> tuple[list[accuracy.EvalItem], list[str], str, Path]:
    """The check's images, what was skipped finding them, how to name the set, and its root folder."""
    if config.data is not None:
        items, skipped = accuracy.items_from_folder(config.data, source.labels)
        return items, skipped, f"every image of {config.data}", config.data
    return accuracy.items_from_split(source.split), [], f"test split of {source.run_dir}", source.split.root


def _output_kind(probs: np.ndarray) -> str:
    """What the model outputs: "probabilities" when every row is a distribution (a softmax), else "logits"."""
    return "probabilities" if looks_like_probabilities(probs) else "logits"


@dataclass
class _Conversion:
    """The converted model, its float32 reference, and how it was made."""

    tflite: bytes
    float32_bytes: int
    seconds: float
    calibration: dict[str, Any] | None


def _convert(config: ConvertConfig, source: RunSource, model: Any, size: tuple[int, int]) -> _Conversion:
    """Calibrate (int8) and convert; the float32 conversion is the size the bundle is compared with."""
    show = config.progress
    started = time.perf_counter()
    representative = None
    summary = None
    if config.precision == "int8":
        calib = calibration.load_calibration(
            source.split, config.calibration_samples, size, source.preprocessing, show
        )
        if len(calib.pixels) == 0:
            raise ConvertError(
                f"{source.split.root}: none of the training images could be read for calibration"
            )
        representative = calibration.representative_dataset(calib, show)
        summary = calib.summary()
    _say(f"Converting {source.model_path} to {config.precision} TFLite...", show)
    converted = tflite.to_tflite(model, size, config.precision, config.io_dtype, representative)
    seconds = time.perf_counter() - started
    float32 = converted if config.precision == "float32" else tflite.to_tflite(model, size, "float32")
    return _Conversion(converted, len(float32), seconds, summary)


def _staged_manifest(
    config: ConvertConfig, source: RunSource, conversion: _Conversion, model_path: Path, outputs: str
) -> BundleManifest:
    """bundle.json for the staged model, before the check fills in `accuracy_check`."""
    input_spec, output_spec = publish.tensor_specs(model_path)
    return BundleManifest(
        labels=source.labels,
        input=input_spec,
        output=output_spec,
        preprocessing=source.preprocessing,
        precision=config.precision,
        model_sha256=sha256_file(model_path),
        model_bytes=len(conversion.tflite),
        float_model_bytes=conversion.float32_bytes,
        source_run=str(source.run_dir.resolve()),
        accuracy_check=None,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        edge_all_version=edge_all.__version__,
        outputs=outputs,
        extra={"float_model": FLOAT_MODEL_NOTE, "conversion_seconds": round(conversion.seconds, 3)},
    )


def convert_run(config: ConvertConfig) -> ConvertResult:
    """Convert RUN_DIR's model, check it against the float model, and publish the bundle if it passes."""
    target = config.target
    publish.check_target(target, config.force)
    # Calibration reads training images, the check the test images (unless --data): both must exist.
    parts = (("train",) if config.precision == "int8" else ()) + (("test",) if config.data is None else ())
    source = open_source(config.run_dir, parts)
    items, skipped, eval_set, eval_root = _eval_items(config, source)
    if not items:
        raise ConvertError(f"{eval_root}: no images to check the converted model on ({eval_set})")
    model = load_float_model(source)
    size = model_input_size(model)
    conversion = _convert(config, source, model, size)

    check_started = time.perf_counter()
    float_probs, items, unreadable = accuracy.float_probabilities(
        model, items, size, source.preprocessing, config.progress
    )
    outputs = _output_kind(float_probs) if len(float_probs) else "probabilities"
    if outputs == "logits":
        float_probs = softmax(float_probs)

    with publish.Staging(target) as staging:
        model_path = staging.write_model(conversion.tflite, source.labels)
        manifest = _staged_manifest(config, source, conversion, model_path, outputs)
        write_manifest(staging.dir, manifest)  # the Classifier below loads exactly this bundle

        converted_probs = accuracy.converted_probabilities(staging.dir, items, config.progress)
        report = accuracy.compare(
            source.labels,
            items,
            float_probs,
            converted_probs,
            config.max_drop,
            ("float32 Keras", f"{config.precision} TFLite"),
            eval_set,
            eval_root,
            skipped + unreadable,
        )
        report.notes = _overlap_note(config, source)
        report.conversion = {
            "precision": config.precision,
            "io_dtype": manifest.input.dtype,
            "seconds": round(conversion.seconds, 3),
            "check_seconds": round(time.perf_counter() - check_started, 3),
            "model_bytes": len(conversion.tflite),
            "float_model_bytes": conversion.float32_bytes,
            "float_model": FLOAT_MODEL_NOTE,
            "calibration": conversion.calibration,
            "source_run": manifest.source_run,
        }
        report_dict = report.to_dict()
        if not report.passed:
            report_path = publish.failed_report_path(target)
            publish.write_json(report_path, report_dict)
            return ConvertResult(target, False, report_dict, report_path)

        outcome = compile_for_edgetpu(staging.dir) if config.edgetpu else None
        edgetpu_sha = sha256_file(staging.dir / EDGETPU_MODEL_FILE) if outcome and outcome.compiled else None
        manifest = dataclasses.replace(manifest, accuracy_check=report_dict, edgetpu_model_sha256=edgetpu_sha)
        write_manifest(staging.dir, manifest)
        publish.write_json(staging.dir / publish.REPORT_FILE, report_dict)
        bundle_dir = staging.publish()
    warnings = report.notes + ([outcome.message] if outcome and not outcome.compiled else [])
    return ConvertResult(bundle_dir, True, report_dict, bundle_dir / publish.REPORT_FILE, outcome, warnings)
