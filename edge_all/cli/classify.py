"""`edge-all classify` (a batch of image files) and `edge-all info` (what runs the model, and how).

Only typer and the standard library at module level: numpy, pillow and the interpreter load
inside the commands, so `edge-all --help` stays instant on a Raspberry Pi.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edge_all.cli.options import (
    EdgeTpuOption,
    LabelsOption,
    ModelOption,
    QualityConfigOption,
    SiteOption,
    ThreadsOption,
    ThresholdOption,
    TtaOption,
    UmPerPxOption,
    load_model,
    site_profile,
)
from edge_all.errors import FileError, UsageError
from edge_all.exit_codes import EPILOG, ExitCode
from edge_all.runtime.choice import ModelChoice
from edge_all.runtime.models import installed_reference

if TYPE_CHECKING:
    from edge_all.triage.decision import FieldResult

# Lists longer than this get a progress bar on stderr (only shown on a terminal).
PROGRESS_MIN_FILES = 10


def classify(
    paths: Annotated[
        list[str],
        typer.Argument(metavar="PATH...", help="Image files, folders (searched recursively) or globs."),
    ],
    model: ModelOption = None,
    labels: LabelsOption = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="How many classes to list per file.")] = 3,
    threshold: ThresholdOption = None,
    no_quality_gate: Annotated[
        bool,
        typer.Option(
            "--no-quality-gate",
            help="Classify every image, checking nothing (the gate is on for bundles, off for plain models).",
        ),
    ] = False,
    quality_config: QualityConfigOption = None,
    tta: TtaOption = False,
    um_per_px: UmPerPxOption = None,
    site: SiteOption = None,
    heatmaps: Annotated[
        Path | None,
        typer.Option(
            "--heatmaps", help="Write a heat map (what the model looked at) for each image into this folder."
        ),
    ] = None,
    json_lines: Annotated[
        bool,
        typer.Option("--json", help="Write one JSON object per file to stdout (failures carry `error`)."),
    ] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write the results to this CSV file.")
    ] = None,
    threads: ThreadsOption = None,
    edgetpu: EdgeTpuOption = False,
) -> None:
    """Classify image files with a bundle (by default the reference bundle) or a plain .tflite model.

    Each file is classified, uncertain, referred (unlike the training images), rejected (poor quality)
    or, when unreadable, reported in one line on stderr while the batch goes on (exit code 3).
    """
    from edge_all.cells.scale import ScaleEstimate, scale_of
    from edge_all.results.batch import (
        FileResult,
        format_summary,
        format_table,
        json_line,
        make_result,
        write_csv,
    )
    from edge_all.runtime.images import ImageError, read_rgb
    from edge_all.runtime.inputs import expand_inputs
    from edge_all.triage.cells import CellReader
    from edge_all.triage.decision import assess_field, reads_cells, resolve_threshold
    from edge_all.triage.site_limits import site_thresholds
    from edge_all.triage.thresholds import QualityThresholds

    classifier = load_model(ModelChoice(model, labels, threads, edgetpu))
    if heatmaps is not None and not classifier.can_draw_heatmaps:
        raise UsageError(
            f"--heatmaps: {classifier.model_path} carries no heat-map weights (GAP-head bundles do)"
        )
    quality = None
    if classifier.manifest is not None and not no_quality_gate:  # plain models document no such images
        quality = QualityThresholds.from_file(quality_config) if quality_config else QualityThresholds()
    threshold = resolve_threshold(threshold, classifier)
    given = ScaleEstimate.given(um_per_px) if um_per_px is not None else None
    cells = reads_cells(classifier)
    cell_reader = None
    commissioned = site_profile(site, classifier, um_per_px)
    site_sha256 = None if commissioned is None else commissioned.sha256  # of the bytes just verified
    if commissioned is not None:  # the site's scale, and its stain reference where the bundle reads cells
        profile = commissioned.profile
        given = ScaleEstimate.given(profile.scale.um_per_px, source="site")
        if quality is not None:  # the gate's limits relative to what a good field is on this microscope
            quality = site_thresholds(quality, profile.quality)
        cell_reader = (
            CellReader(classifier, profile.stain.statistics, profile.threshold.threshold) if cells else None
        )
    inputs = expand_inputs(paths)
    if not inputs.files and not inputs.problems:
        raise FileError(f"no images found in {' '.join(paths)}")

    results: list[FileResult] = []

    def report(result: FileResult) -> None:
        results.append(result)
        if result.error is not None:
            typer.echo(f"error: {result.error}", err=True)
        if json_lines:
            typer.echo(json_line(result))

    for path, message in inputs.problems:
        report(FileResult(file=path, error=message))
    top_k = min(top_k, len(classifier.labels))
    names = HeatmapNames(heatmaps) if heatmaps is not None else None
    with typer.progressbar(
        inputs.files,
        label="Classifying",
        file=sys.stderr,
        hidden=len(inputs.files) < PROGRESS_MIN_FILES or not sys.stderr.isatty(),
    ) as files:
        for path in files:
            try:
                rgb, reduction = read_rgb(path)  # a JPEG too large to decode whole comes reduced
                scale = scale_of(rgb, given and given.reduced(reduction), cells)
                assessed = assess_field(
                    rgb, classifier, quality, threshold, tta, names is not None,
                    scale=scale, reads_cells=cells, cell_reader=cell_reader,
                    site=commissioned.profile if commissioned is not None else None,
                )  # fmt: skip
            except ImageError as exc:
                report(FileResult(file=path, error=str(exc)))
                continue
            result = replace(make_result(path, assessed, classifier.labels, top_k), site=site_sha256)
            if (
                names is not None
                and assessed.prediction is not None
                and assessed.prediction.heatmap is not None
            ):
                result = replace(result, heatmap=names.write(path, assessed))
            report(result)

    failed = sum(result.error is not None for result in results)
    if csv_path is not None:
        write_csv(csv_path, results)  # written whole, or a one-line error (a full disk: StorageFull)
    summary = format_summary(results, classifier.labels, threshold)
    if json_lines:
        typer.echo(summary, err=True)
    else:
        if any(result.judged is not None for result in results):
            typer.echo(format_table(results))
        typer.echo(summary)
    if failed:
        raise typer.Exit(int(ExitCode.SOME_INPUTS_FAILED))


class HeatmapNames:
    """Writes each file's overlay into one folder, as STEM-heatmap.png (numbered when stems repeat)."""

    def __init__(self, folder: Path) -> None:
        from edge_all.safe_write import write_errors

        with write_errors(folder, "the heat-map folder"):
            folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.used: set[str] = set()

    def write(self, source: Path, assessed: FieldResult) -> Path:
        import io

        from PIL import Image

        from edge_all.runtime.heatmaps import overlay
        from edge_all.safe_write import write_file

        stem, n = f"{source.stem}-heatmap", 1
        while stem in self.used:
            stem, n = f"{source.stem}-{n}-heatmap", n + 1
        self.used.add(stem)
        path = self.folder / f"{stem}.png"
        encoded = io.BytesIO()
        Image.fromarray(overlay(assessed.pixels, assessed.prediction.heatmap)).save(encoded, format="PNG")
        write_file(path, encoded.getvalue(), "the heat map")
        return path


def info(
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", "-m", help="Also describe this bundle or .tflite (default: the reference bundle)."
        ),
    ] = None,
    labels: LabelsOption = None,
    threads: ThreadsOption = None,
    edgetpu: EdgeTpuOption = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the facts as one JSON object.")] = False,
    site: SiteOption = None,
) -> None:
    """Show the interpreter backend, its version, delegate and threads, and the model: --model, or the
    reference bundle the package carries (not with --edgetpu alone: that checks the Edge TPU runtime)."""
    import numpy
    import PIL

    from edge_all import __version__
    from edge_all.runtime.backend import EDGETPU_LIBRARY, Backend, edgetpu_runtime_present, find_interpreter

    facts: dict = {
        "edge_all": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "cpu_cores": os.cpu_count(),
        "edgetpu_runtime": EDGETPU_LIBRARY if edgetpu_runtime_present() else None,
    }
    if model is None and not edgetpu:
        model = installed_reference()
    if model is not None:
        classifier = load_model(ModelChoice(model, labels, threads, edgetpu))
        backend = classifier.backend
        facts["model"] = classifier.describe()
        if site is not None:
            facts["site"] = _site_facts(site_profile(site, classifier, None), site)
    else:
        module = find_interpreter()
        if edgetpu:
            from edge_all.runtime.backend import load_delegate

            load_delegate(module)
        delegate = EDGETPU_LIBRARY if edgetpu else None
        backend = Backend(module.name, module.version, delegate, threads or os.cpu_count() or 1)
    facts["backend"] = asdict(backend)
    if site is not None and "site" not in facts:
        raise UsageError(
            "--site: a site is checked against a model; give --model or use the reference bundle"
        )
    if json_output:
        typer.echo(json.dumps(facts, indent=2))
        return
    typer.echo(_format_info(facts))


def _site_facts(commissioned, site: Path) -> dict:
    """What `info --site` shows of a commissioned site (checked against the model, and ready)."""
    profile = commissioned.profile
    return {
        "site": str(site),
        "sha256": commissioned.sha256,
        "created": profile.created,
        "um_per_px": profile.scale.um_per_px,
        "scale_spread": profile.scale.spread,
        "images": len(profile.images),
        "stain_means": list(profile.stain.means),
        "stain_stds": list(profile.stain.stds),
        "ready": profile.verdict.ready,
        "unfamiliarity_threshold": profile.threshold.threshold,
        "threshold_check": profile.threshold.note
        or f"{profile.threshold.blasts_flagged:.1%} of "
        f"{profile.threshold.blasts} site-looking blasts flagged",
    }


def _format_info(facts: dict) -> str:
    from edge_all.runtime.bundle import trained_on_text

    backend = facts["backend"]
    lines = [
        f"edge-all {facts['edge_all']} on {facts['platform']}, Python {facts['python']}, "
        f"numpy {facts['numpy']}, pillow {facts['pillow']}",
        f"interpreter: {backend['name']} {backend['version']}",
        f"delegate:    {backend['delegate'] or 'none (CPU)'}",
        f"threads:     {backend['threads']} of {facts['cpu_cores']} cores",
        f"Edge TPU runtime: {facts['edgetpu_runtime'] or 'not installed'}",
    ]
    model = facts.get("model")
    if model:

        def tensor(t: dict) -> str:
            quant = t["quantization"]
            q = f" (scale {quant['scale']:.6g}, zero point {quant['zero_point']})" if quant else ""
            return f"{t['shape']} {t['dtype']}{q}"

        labels = model["labels"]
        low, high = model["pixel_range"]
        shown = ", ".join(labels[:5]) + (f", ... ({len(labels)} in all)" if len(labels) > 5 else "")
        lines += [
            f"model:  {model['model']}",
            f"  input:   {tensor(model['input'])}, pixels 0..255 stand for {low:g}..{high:g}",
            f"  output:  {tensor(model['output'])}, {model['outputs']}",
            f"  preprocessing: {model['preprocessing']}",
            f"  labels:  {shown}",
        ]
        bundle = model["bundle"]
        if bundle:
            referral, calibration = bundle["referral"], bundle["calibration"]
            lines += [
                f"  bundle:  {bundle['precision']}, format {bundle['format_version']}, sha256 "
                f"{bundle['model_sha256'][:16]}... verified, made {bundle['created']} by edge-all "
                f"{bundle['edge_all_version']}",
                f"  source run: {bundle['source_run']}",
                f"  trained on: {trained_on_text(bundle['trained_on']) or 'not recorded'}",
                f"  confidence threshold: {bundle['confidence_threshold']:g}; calibration: "
                + (f"temperature {calibration['temperature']:.3f}" if calibration else "none"),
                "  referral: "
                + (
                    f"{referral['method']} (refers {_validation_rate(referral):.1%} of validation images)"
                    if referral
                    else "none (every image gets a class)"
                )
                + f"; heat maps: {'yes' if bundle['heatmaps'] else 'no'}",
            ]
        else:
            lines.append("  bundle:  none (plain .tflite)")
    site = facts.get("site")
    if site:
        lines.append(
            f"site:   {site['site']}, commissioned {site['created']} on {site['images']} images: "
            f"{site['um_per_px']:.4f} um/px (spread {site['scale_spread']:.1%}), ready; "
            f"profile sha256 {site['sha256']}; unfamiliarity threshold {site['unfamiliarity_threshold']:.3g} "
            f"({site['threshold_check']})"
        )
    return "\n".join(lines)


def _validation_rate(referral: dict) -> float:
    return float(referral["details"].get("validation_referral_rate", 0.0))


def register(app: typer.Typer) -> None:
    """Add `classify` and `info` to the `edge-all` app."""
    app.command("classify", epilog=EPILOG)(classify)
    app.command("info", epilog=EPILOG)(info)
