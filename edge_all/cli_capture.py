"""`edge-all capture-and-classify` (camera, video or folder -> quality gate -> model -> SQLite) and
`edge-all results list|show|export` (read that database back).

Only typer and the standard library at module level; numpy, the interpreter, OpenCV and
picamera2 load inside the commands (the camera libraries only in the source that uses them).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from edge_all.cli_model import EdgeTpuOption, LabelsOption, ModelOption, ThreadsOption, load_classifier
from edge_all.errors import FileError, UsageError
from edge_all.exit_codes import EPILOG

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Results database (default: $XDG_DATA_HOME/edge-all/results.db, "
        "else ~/.local/share/edge-all/results.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _notice(message: str) -> None:
    typer.echo(message, err=True)


# ---- capture-and-classify -------------------------------------------------------------------
def capture_and_classify(
    model: ModelOption,
    camera: Annotated[
        str,
        typer.Option(
            "--camera",
            help="picamera2[:N], opencv:N or /dev/videoN (USB camera), video:FILE, or folder:DIR "
            "(classify each new image once, also those arriving while running).",
        ),
    ] = "opencv:0",
    labels: LabelsOption = None,
    sample_id: Annotated[
        str | None, typer.Option("--sample-id", help="Slide/patient sample these fields of view belong to.")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", min=1, help="Stop after N frames.")] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval", min=0.0, help="Seconds between captures (default: 1 for cameras, 0 for files)."
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.0, help="Stop after this many seconds.")
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Below this confidence: 'uncertain: refer to a specialist'."),
    ] = 0.6,
    db: DbOption = None,
    save_frames: Annotated[
        Path | None, typer.Option("--save-frames", help="Also save every frame here (written atomically).")
    ] = None,
    frame_format: Annotated[
        str, typer.Option("--frame-format", help="png (lossless) or jpeg, for --save-frames.")
    ] = "png",
    quality_config: Annotated[
        Path | None,
        typer.Option("--quality-config", help="JSON object of quality thresholds (see docs/capture.md)."),
    ] = None,
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
    ] = 30.0,
    settle: Annotated[
        float,
        typer.Option(
            "--settle", min=0.0, help="folder: a file must stay unchanged this long before it is read."
        ),
    ] = 1.0,
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
    from edge_all.capture.quality import QualityThresholds
    from edge_all.capture.session import CaptureError, CaptureOptions
    from edge_all.capture.sources import parse_source

    if frame_format not in ("png", "jpeg"):
        raise UsageError(f"--frame-format must be png or jpeg, not {frame_format!r}")
    limits = QualityThresholds.from_file(quality_config) if quality_config else QualityThresholds()
    limits = limits.replace(
        min_focus=min_focus,
        min_brightness=min_brightness,
        max_brightness=max_brightness,
        max_clipped=max_clipped,
        min_contrast=min_contrast,
        min_stained=min_stained,
    )
    source = parse_source(camera, settle_seconds=settle)
    if save_frames is not None and Path(getattr(source, "folder", "")) == save_frames:
        raise CaptureError("--save-frames must not be the watched folder (saved frames would be read again)")
    options = CaptureOptions(
        sample_id=sample_id,
        count=count,
        interval=source.default_interval if interval is None else interval,
        duration=duration,
        threshold=threshold,
        quality=None if no_quality_gate else limits,
        save_frames=save_frames,
        frame_format=frame_format,
        reconnect_timeout=reconnect_timeout,
    )
    _run_capture(source, model, labels, threads, edgetpu, db, options, json_lines)


def _load_classifier(model: Path, labels: Path | None, threads: int | None, edgetpu: bool) -> Any:
    """The classifier and the sha256 of its model, which every recorded frame names."""
    from edge_all.bundle import sha256_file

    classifier = load_classifier(model, labels, threads, edgetpu)
    manifest = classifier.manifest
    digest = manifest.model_sha256 if manifest is not None else sha256_file(classifier.model_path)
    return classifier, digest


def _run_capture(
    source: Any,
    model: Path,
    labels: Path | None,
    threads: int | None,
    edgetpu: bool,
    db: Path | None,
    options: Any,
    json_lines: bool,
) -> None:
    from edge_all import __version__
    from edge_all.capture.folder_source import FolderSource
    from edge_all.capture.live import live_line, record_json
    from edge_all.capture.session import CaptureError, CaptureSession, now_iso
    from edge_all.capture.store import ResultsStore, SessionInfo, StorageFull, StoreError, default_db_path
    from edge_all.capture.summary import summarize

    classifier, digest = _load_classifier(model, labels, threads, edgetpu)
    source.open()
    db_path = db or default_db_path()
    try:
        store = ResultsStore.open(db_path)
    except StoreError:
        source.close()
        raise

    if isinstance(source, FolderSource):
        # A restart (power cut, service restart) must not classify a slide's images twice.
        skipped = source.skip(store.origins(source.spec, options.sample_id))
        if skipped:
            _notice(f"skipping {skipped} image(s) already recorded for this folder and sample id")
    stop = threading.Event()
    restore = _install_stop_handlers(stop)
    outcome = None
    try:
        try:
            session_id = store.start_session(
                SessionInfo(
                    started_at=now_iso(),
                    source=source.spec,
                    sample_id=options.sample_id,
                    model=str(model),
                    bundle_sha256=digest,
                    labels=list(classifier.labels),
                    threshold=options.threshold,
                    quality_thresholds=options.quality.to_dict() if options.quality else None,
                    edge_all_version=__version__,
                )
            )
        except StorageFull as exc:
            raise StorageFull(f"disk full, nothing captured: {exc}") from None
        if not json_lines:
            _notice(f"capturing from {source.spec} into {db_path} (session {session_id}); Ctrl+C to stop")
        session = CaptureSession(
            source,
            classifier,
            store,
            session_id,
            digest,
            options,
            stop=stop,
            on_record=lambda record: typer.echo(record_json(record) if json_lines else live_line(record)),
            on_notice=_notice,
        )
        outcome = session.run()
        with contextlib.suppress(StorageFull):  # the frames are committed; only the end time is lost
            store.end_session(session_id, now_iso(), outcome.reason)
        summaries = summarize(store.captures(session_id=session_id))
        if json_lines:
            typer.echo(json.dumps({"summary": [s.to_dict() for s in summaries], "end": outcome.reason}))
        else:
            _notice(f"stopped: {outcome.reason}")
            for summary in summaries:
                typer.echo(summary.describe(classifier.labels))
            if not summaries:
                typer.echo("no frames captured")
    finally:
        restore()
        source.close()
        store.close()
    if not outcome.ok:
        raise CaptureError(outcome.reason)


def _install_stop_handlers(stop: threading.Event):
    """SIGINT/SIGTERM finish the current frame; a second Ctrl+C aborts at once."""

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        # os.write, not print: a handler may interrupt a print to stderr (reentrant buffered I/O).
        message = f"{signal.Signals(signum).name}: finishing the current frame, then stopping\n"
        os.write(2, message.encode())

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


# ---- results ----------------------------------------------------------------------------------
results_app = typer.Typer(
    name="results",
    help="Read the capture results database: list samples, show rows, export CSV.",
    no_args_is_help=True,
)


def _open_store(db: Path | None) -> Any:
    from edge_all.capture.store import ResultsStore, default_db_path

    return ResultsStore.open(db or default_db_path(), create=False)


@results_app.command("list")
def results_list(
    db: DbOption = None,
    sessions: Annotated[
        bool, typer.Option("--sessions", help="One line per capture session instead.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Samples (or sessions) with their counts and majority call."""
    from edge_all.capture.summary import summarize

    with _open_store(db) as store:
        if sessions:
            items = []
            for info in store.sessions():
                (summary,) = summarize(store.captures(session_id=info["id"])) or [None]
                items.append({**info, **(summary.to_dict() if summary else {"frames": 0, "call": "no call"})})
        else:
            items = [summary.to_dict() for summary in summarize(store.captures())]
    if json_output:
        typer.echo(json.dumps(items, indent=2))
        return
    if not items:
        typer.echo("no captures recorded")
        return
    first = "session" if sessions else "sample"
    typer.echo(
        f"{first:<20} {'frames':>6} {'classified':>10} {'uncertain':>9} {'rejected':>8} {'errors':>6}  call"
    )
    for item in items:
        name = f"{item['id']} {item['sample_id'] or '-'}" if sessions else str(item["sample_id"] or "-")
        typer.echo(
            f"{name:<20} {item['frames']:>6} {item.get('classified', 0):>10} {item.get('uncertain', 0):>9} "
            f"{item.get('rejected', 0):>8} {item.get('errors', 0):>6}  {item['call']}"
        )


@results_app.command("show")
def results_show(
    ident: Annotated[str, typer.Argument(metavar="SAMPLE_ID|ROW_ID", help="A sample id, or a row id.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The rows of one sample (or one row by its id), with the sample's summary."""
    from edge_all.capture.live import rows_table
    from edge_all.capture.store import StoreError
    from edge_all.capture.summary import summarize

    with _open_store(db) as store:
        if store.has_sample(ident):
            rows = list(store.captures(sample_id=ident))
        elif ident.isdigit() and (row := store.capture(int(ident))) is not None:
            rows = [row]
        else:
            raise StoreError(f"no sample or row {ident!r} in {store.path}")
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(rows_table(rows))
    for summary in summarize(rows):
        typer.echo(summary.describe())


@results_app.command("export")
def results_export(
    csv_path: Annotated[Path, typer.Option("--csv", help="CSV file to write.")],
    sample_id: Annotated[str | None, typer.Option("--sample-id", help="Only this sample's rows.")] = None,
    db: DbOption = None,
) -> None:
    """Every capture row as CSV (probabilities as one JSON column)."""
    from edge_all.capture.export import export_csv

    with _open_store(db) as store:
        try:
            count = export_csv(store, csv_path, sample_id)
        except OSError as exc:
            raise FileError(f"{csv_path}: cannot write CSV ({exc.strerror or exc})") from None
    typer.echo(f"wrote {count} rows to {csv_path}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `edge-all` app."""
    app.command("capture-and-classify", epilog=EPILOG)(capture_and_classify)
    app.add_typer(results_app, name="results")
