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
from typing import TYPE_CHECKING, Any

import numpy as np

import edge_all
from convert import accuracy, calibration, publish, tflite
from convert.battery_check import check_battery
from convert.config import ConvertConfig
from convert.edgetpu import EdgeTpuOutcome, compile_for_edgetpu
from convert.errors import ConvertError
from convert.progress import progress
from convert.source import RunSource, load_float_model, model_input_size, open_source
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import (
    CELLS_FORMAT_VERSION,
    EDGETPU_MODEL_FILE,
    HEATMAP_FILE,
    REFERRAL_FILE,
    BundleManifest,
    Calibration,
    CellCrop,
    Referral,
    Scale,
    Stain,
    TrainedOn,
    write_manifest,
)
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.heatmaps import HeatmapWeights
from edge_all.runtime.images import ImageError
from edge_all.runtime.inputs import expand_inputs
from edge_all.runtime.referral import METHOD
from edge_all.runtime.tensors import softmax
from training.dataset import is_synthetic

if TYPE_CHECKING:
    from convert.device_fit import DeviceFit

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


def _trained_on(source: RunSource) -> TrainedOn:
    root = source.split.root
    counts = {part: sum(per_class.values()) for part, per_class in source.split.counts().items()}
    return TrainedOn("synthetic" if is_synthetic(root) else "real", str(root), counts)


def _cells_fields(cells: dict[str, Any] | None) -> dict[str, Any]:
    """A cell run's reads, scale, crop, stain and roles: what makes its bundle format 3."""
    if cells is None:
        return {}
    try:
        stain = cells["stain"]
        means, stds = stain.get("target_means"), stain.get("target_stds")
        return {
            "format_version": CELLS_FORMAT_VERSION,
            "reads": str(cells["reads"]),
            "scale": Scale(float(cells["scale"]["um_per_px"])),
            "cell_crop": CellCrop(int(cells["cell_crop"]["size_px"])),
            "stain": Stain(
                str(stain["method"]),
                stain.get("library"),
                tuple(float(v) for v in means) if means is not None else None,  # type: ignore[arg-type]
                tuple(float(v) for v in stds) if stds is not None else None,  # type: ignore[arg-type]
            ),
            "label_roles": {str(k): str(v) for k, v in cells["label_roles"].items()},
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ConvertError(f"cells.json of the run: missing or malformed {exc}") from None


def _staged_manifest(
    config: ConvertConfig, source: RunSource, conversion: _Conversion, model_path: Path
) -> BundleManifest:
    """bundle.json for the staged model, before the device extras and the check fill it in."""
    input_spec, outputs = publish.tensor_specs(model_path)
    return BundleManifest(
        labels=source.labels,
        input=input_spec,
        outputs=outputs,
        preprocessing=source.preprocessing,
        precision=config.precision,
        model_sha256=sha256_file(model_path),
        model_bytes=len(conversion.tflite),
        float_model_bytes=conversion.float32_bytes,
        source_run=str(source.run_dir.resolve()),
        accuracy_check=None,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        edge_all_version=edge_all.__version__,
        trained_on=_trained_on(source),
        confidence_threshold=config.confidence_threshold,
        extra={"float_model": FLOAT_MODEL_NOTE, "conversion_seconds": round(conversion.seconds, 3)},
        **_cells_fields(source.cells),
    )


def _with_device_extras(
    staging: publish.Staging, manifest: BundleManifest, fit: DeviceFit, model: Any
) -> BundleManifest:
    """Write the referral detector and the heat-map weights beside the model, and record them."""
    from training.models import heatmap_weights

    referral = None
    if fit.detector is not None:
        fit.detector.save(staging.dir / REFERRAL_FILE)
        referral = Referral(sha256_file(staging.dir / REFERRAL_FILE), METHOD, fit.referral)
    heatmap_sha = None
    weights = heatmap_weights(model)
    if weights is not None and "feature_map" in manifest.outputs:
        HeatmapWeights(*weights).save(staging.dir / HEATMAP_FILE)
        heatmap_sha = sha256_file(staging.dir / HEATMAP_FILE)
    calibration = Calibration(fit.temperature, fit.calibration) if fit.temperature is not None else None
    return dataclasses.replace(
        manifest, referral=referral, calibration=calibration, heatmap_sha256=heatmap_sha
    )


def _referral_report(
    config: ConvertConfig, classifier: Any, eval_unfamiliarity: np.ndarray | None, correct: np.ndarray
) -> dict[str, Any]:
    """How many in-distribution images the bundle refers, how accurate the rest are, and (with --ood)
    how many images from other laboratories it refers."""
    if eval_unfamiliarity is None:
        return {}
    referred = eval_unfamiliarity >= 1.0
    report: dict[str, Any] = {
        "referred": float(np.mean(referred)),
        "accuracy_all": float(np.mean(correct)),
        "accuracy_not_referred": float(np.mean(correct[~referred])) if (~referred).any() else None,
    }
    if config.ood is not None:
        report["ood"] = _ood_report(config, classifier, eval_unfamiliarity)
    return report


def _ood_report(config: ConvertConfig, classifier: Any, inside: np.ndarray) -> dict[str, Any]:
    from convert.device_fit import auroc

    found = expand_inputs([str(config.ood)])
    assert config.ood is not None
    scores, unreadable = [], 0
    for path in progress(found.files, "Images from other laboratories", len(found.files), config.progress):
        try:
            scores.append(classifier.predict(path).unfamiliarity)
        except ImageError:
            unreadable += 1
    if not scores:
        raise ConvertError(f"{config.ood}: no readable images to check the referral on")
    outside = np.array(scores, np.float64)
    return {
        "folder": str(config.ood),
        "images": len(scores),
        "unreadable": unreadable,
        "referred": float(np.mean(outside >= 1.0)),
        "auroc": auroc(inside, outside),
        "note": "reported only: the detector and its threshold were fitted without these images",
    }


def _rescaled(probabilities: np.ndarray, factor: float) -> np.ndarray:
    """softmax(factor * log p): the same logits at 1/factor times the temperature (1 / T calibrates)."""
    return softmax(np.log(np.clip(probabilities, 1e-12, 1.0)) * factor)


def convert_run(config: ConvertConfig) -> ConvertResult:
    """Convert RUN_DIR's model, fit what the device needs beside it, check it against the float model
    (clean and under the robustness battery), and publish the bundle if it passes."""
    target = config.target
    publish.check_target(target, config.force)
    # Calibration and the referral detector read training and validation images; the check, the
    # test images (unless --data): all must exist.
    parts = ("train", "val") + (("test",) if config.data is None else ())
    source = open_source(config.run_dir, parts)
    items, skipped, eval_set, eval_root = _eval_items(config, source)
    if not items:
        raise ConvertError(f"{eval_root}: no images to check the converted model on ({eval_set})")
    # Keras and TensorFlow load only now, after every cheap check has passed.
    from convert.device_fit import expected_calibration_error, fit_device, reliability_bins
    from training.models import export_model

    model = load_float_model(source)
    size = model_input_size(model)
    conversion = _convert(config, source, export_model(model), size)

    check_started = time.perf_counter()
    pixels, items, unreadable = accuracy.load_pixels(items, size, source.preprocessing, config.progress)
    if not items:
        raise ConvertError(f"{eval_root}: no readable images to check the converted model on ({eval_set})")
    truth = np.array([source.labels.index(item.label) for item in items])
    float_probs = accuracy.float_probabilities(model, pixels)

    with publish.Staging(target) as staging:
        model_path = staging.write_model(conversion.tflite, source.labels)
        manifest = _staged_manifest(config, source, conversion, model_path)
        write_manifest(staging.dir, manifest)  # the Classifier below loads exactly this bundle
        staged = Classifier.load(staging.dir, threads=None)
        fit = fit_device(
            staged, source.split, size[0], manifest.scores.kind == "logits", config.referral_rate,
            config.referral_dimensions, config.progress,
        )  # fmt: skip
        manifest = _with_device_extras(staging, manifest, fit, model)
        temperature = fit.temperature or 1.0
        write_manifest(staging.dir, manifest)
        classifier = Classifier.load(staging.dir, threads=None)

        converted = accuracy.converted_outputs(
            classifier, pixels, "Checking the converted model", config.progress
        )
        report = accuracy.compare(
            source.labels,
            items,
            _rescaled(float_probs, 1.0 / temperature),  # both at the bundle's temperature
            converted.probabilities,
            config.max_drop,
            ("float32 Keras", f"{config.precision} TFLite"),
            eval_set,
            eval_root,
            skipped + unreadable,
            converted.unfamiliarity,
        )
        report.notes = _overlap_note(config, source)
        report.robustness = check_battery(
            model, classifier, pixels, truth, source.labels, config.max_robustness_drop, config.progress
        )
        correct = converted.probabilities.argmax(axis=1) == truth
        report.referral = _referral_report(config, classifier, converted.unfamiliarity, correct)
        uncalibrated = _rescaled(converted.probabilities, temperature)
        report.calibration = {
            "temperature": fit.temperature,
            **fit.calibration,
            "ece_test_before": expected_calibration_error(uncalibrated, truth),
            "ece_test_after": expected_calibration_error(converted.probabilities, truth),
            "reliability_test": reliability_bins(converted.probabilities, truth),
        }
        report.passed = report.passed and report.robustness["passed"]
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
