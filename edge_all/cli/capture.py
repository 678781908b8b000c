"""`edge-all capture-and-classify`: camera, video or folder -> quality gate -> model -> SQLite.

The capture itself is edge_all.capture.app.run_capture; this module turns options into a
CaptureRequest and prints what the capture reports. Only typer and the standard library at module
level (options.py is standard library only); numpy, the interpreter and the camera libraries load
inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edge_all.capture.options import CaptureOptions, CaptureRequest, check_frame_format, parse_size
from edge_all.cli.options import (
    DbOption,
    EdgeTpuOption,
    IntervalOption,
    LabelsOption,
    MinAllLikeOption,
    MinGoodFieldsOption,
    ModelOption,
    QualityConfigOption,
    SiteOption,
    ThreadsOption,
    ThresholdOption,
    TtaOption,
    UmPerPxOption,
)
from edge_all.exit_codes import EPILOG
from edge_all.runtime.choice import ModelChoice
from edge_all.triage.screening import ScreeningRule
from edge_all.triage.thresholds import QualityThresholds


def _notice(message: str) -> None:
    from edge_all.safe_text import printable

    typer.echo(printable(message), err=True)


def capture_and_classify(
    model: ModelOption = None,
    camera: Annotated[
        str,
        typer.Option(
            "--camera",
            help="picamera2[:N], opencv:N or /dev/videoN (USB camera), video:FILE, or folder:DIR "
            "(classify each new image once, also those arriving while running).",
        ),
    ] = CaptureRequest.camera,
    labels: LabelsOption = None,
    sample_id: Annotated[
        str | None, typer.Option("--sample-id", help="Slide/patient sample these fields of view belong to.")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", min=1, help="Stop after N frames.")] = None,
    interval: IntervalOption = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.0, help="Stop after this many seconds.")
    ] = None,
    threshold: ThresholdOption = CaptureOptions.threshold,
    tta: TtaOption = CaptureOptions.tta,
    um_per_px: UmPerPxOption = None,
    site: SiteOption = None,
    save_heatmaps: Annotated[
        bool,
        typer.Option(
            "--save-heatmaps", help="Save a heat map (what the model looked at) beside each saved frame."
        ),
    ] = CaptureOptions.save_heatmaps,
    db: DbOption = None,
    save_frames: Annotated[
        Path | None, typer.Option("--save-frames", help="Also save every frame here (written atomically).")
    ] = None,
    frame_format: Annotated[
        str, typer.Option("--frame-format", help="png (lossless) or jpeg, for --save-frames.")
    ] = CaptureOptions.frame_format,
    quality_config: QualityConfigOption = None,
    min_focus: Annotated[
        float | None, typer.Option(help="Minimum variance of the Laplacian (sharpness).")
    ] = None,
    min_brightness: Annotated[float | None, typer.Option(help="Minimum mean brightness (0-255).")] = None,
    max_brightness: Annotated[float | None, typer.Option(help="Maximum mean brightness (0-255).")] = None,
    max_clipped: Annotated[
        float | None, typer.Option(help="Maximum fraction of clipped (black or white) pixels.")
    ] = None,
    min_contrast: Annotated[
        float | None, typer.Option(help="Minimum brightness standard deviation (blank field below).")
    ] = None,
    min_stained: Annotated[
        float | None, typer.Option(help="Minimum fraction of stained (purple) pixels.")
    ] = None,
    no_quality_gate: Annotated[
        bool, typer.Option("--no-quality-gate", help="Classify every frame, checking nothing.")
    ] = False,
    reconnect_timeout: Annotated[
        float,
        typer.Option(
            "--reconnect-timeout", min=0.0, help="Give up when a lost camera is not back in this time."
        ),
    ] = CaptureOptions.reconnect_timeout,
    min_all_like: MinAllLikeOption = ScreeningRule.min_all_like,
    min_good_fields: MinGoodFieldsOption = ScreeningRule.min_good_fields,
    settle: Annotated[
        float,
        typer.Option(
            "--settle", min=0.0, help="folder: a file must stay unchanged this long before it is read."
        ),
    ] = CaptureRequest.settle_seconds,
    capture_size: Annotated[
        str | None,
        typer.Option(
            "--capture-size",
            metavar="WxH",
            help="Cameras: ask for frames of this size (default: the smallest the camera offers that "
            "covers the model input, keeping its field of view).",
        ),
    ] = None,
    lock_exposure: Annotated[
        bool,
        typer.Option(
            "--lock-exposure/--no-lock-exposure",
            help="Cameras: let exposure and white balance settle, then lock them for the slide.",
        ),
    ] = CaptureRequest.lock_exposure,
    settle_frames: Annotated[
        int,
        typer.Option(
            "--settle-frames", min=0, help="Cameras: at most this many frames for exposure to settle."
        ),
    ] = CaptureRequest.settle_frames,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object per frame on stdout, then the summary.")
    ] = False,
    threads: ThreadsOption = None,
    edgetpu: EdgeTpuOption = False,
) -> None:
    """Capture fields of view, check their quality, classify them and record every frame.

    Stops after --count frames, after --duration seconds, at the end of a video, or on Ctrl+C /
    SIGTERM (the current frame is finished and recorded first). Then prints a summary per sample.
    """
    from edge_all.capture.app import CaptureStarted, run_capture
    from edge_all.capture.live import live_line, record_json
    from edge_all.capture.session import CaptureError
    from edge_all.triage.screening import ScreeningCall

    check_frame_format(frame_format)
    limits = QualityThresholds.from_file(quality_config) if quality_config else QualityThresholds()
    limits = limits.replace(
        min_focus=min_focus,
        min_brightness=min_brightness,
        max_brightness=max_brightness,
        max_clipped=max_clipped,
        min_contrast=min_contrast,
        min_stained=min_stained,
    )
    # the site's scale for its camera, its stain reference, and its sha256 recorded with the session
    commissioned = _site_for(site, model, um_per_px) if site is not None else None
    if commissioned is not None:  # the gate's limits relative to what a good field is on this microscope
        from edge_all.triage.site_limits import site_thresholds

        limits = site_thresholds(limits, commissioned.profile.quality)
    request = CaptureRequest(
        model=ModelChoice(model, labels, threads, edgetpu),
        camera=camera,
        db=db,
        settle_seconds=settle,
        capture_size=parse_size(capture_size) if capture_size else None,
        lock_exposure=lock_exposure,
        settle_frames=settle_frames,
        options=CaptureOptions(
            sample_id=sample_id,
            count=count,
            interval=interval,
            duration=duration,
            threshold=threshold,
            quality=None if no_quality_gate else limits,
            save_frames=save_frames,
            save_heatmaps=save_heatmaps,
            tta=tta,
            um_per_px=um_per_px,
            site=commissioned,
            frame_format=frame_format,
            reconnect_timeout=reconnect_timeout,
            screening=ScreeningRule(min_all_like, min_good_fields),
        ),
    )

    def started(start: CaptureStarted) -> None:
        if not json_lines:
            _notice(
                f"capturing from {start.source} into {start.db} (session {start.session_id}); Ctrl+C to stop"
            )

    def call_changed(call: ScreeningCall) -> None:
        if not json_lines:
            _notice(f"screening call: {call.reason}")

    result = run_capture(
        request,
        on_start=started,
        on_record=lambda record: typer.echo(record_json(record) if json_lines else live_line(record)),
        on_notice=_notice,
        on_call=call_changed,
        handle_signals=True,
    )
    counted = result.frames_of_source  # a video: the frames its container promised and gave
    if json_lines:
        end: dict = {"summary": [s.to_dict() for s in result.summaries], "end": result.reason}
        if counted is not None:
            end["frames"] = {
                "expected": counted.expected, "read": counted.read, "ended_early": counted.ended_early,
            }  # fmt: skip
        typer.echo(json.dumps(end))
    else:
        _notice(f"stopped: {result.reason}")
        if counted is not None:
            typer.echo(f"video: {counted.describe()}")
        for summary in result.summaries:
            typer.echo(summary.describe())
        if not result.summaries:
            typer.echo("no frames captured")
    if not result.ok:
        raise CaptureError(result.reason)


def _site_for(site: Path, model: Path | None, um_per_px: float | None):
    """The commissioned site, checked against the bundle the capture will load."""
    from edge_all.errors import UsageError
    from edge_all.runtime.bundle import is_bundle, read_manifest
    from edge_all.site.profile import load_site

    if um_per_px is not None:
        raise UsageError("give --site or --um-per-px, not both (the site's scale is its microscope's)")
    bundle = ModelChoice(model).path  # a path, a shipped bundle's name (cells), or the reference
    if not is_bundle(bundle):
        raise UsageError(f"--site: {bundle} is a plain .tflite; a site is commissioned for a bundle")
    return load_site(site, read_manifest(bundle).model_sha256)


def register(app: typer.Typer) -> None:
    """Add `capture-and-classify` to the `edge-all` app."""
    app.command("capture-and-classify", epilog=EPILOG)(capture_and_classify)
