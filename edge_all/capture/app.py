"""The capture application: one call runs a whole capture, for the CLI and a web station alike.

`run_capture` loads the model, opens the source, skips what a folder source already recorded for
the sample, records the session, runs the loop until something stops it, ends the session and
summarizes it. It prints nothing: the caller hears through callbacks and stops it by setting an
Event, so it can run in a background thread. Only the CLI, in the main thread, also asks it to turn
SIGINT/SIGTERM into that Event. Anything that stops it from starting is an EdgeAllError.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edge_all import __version__
from edge_all.capture.lock import capture_lock
from edge_all.capture.options import CaptureRequest
from edge_all.capture.session import CaptureError, CaptureSession
from edge_all.capture.sources import FrameRequest
from edge_all.capture.spec import parse_source
from edge_all.clock import now_iso
from edge_all.digest import sha256_file
from edge_all.results.errors import StorageFull, StoreError
from edge_all.results.store import CaptureRecord, FrameCount, ResultsStore, SessionInfo, default_db_path
from edge_all.results.summary import SampleSummary
from edge_all.triage.decision import resolve_threshold
from edge_all.triage.quality import ANALYSIS_SIDE
from edge_all.triage.screening import ScreeningCall


@dataclass(frozen=True)
class CaptureStarted:
    """The session is recorded and the loop is about to run."""

    session_id: int
    source: str  # the source's spec, e.g. "video:a.avi"
    db: Path


@dataclass(frozen=True)
class CaptureResult:
    """How a capture ended; `ok` is False when it ended on an error (camera gone for good, disk full)."""

    session_id: int
    db: Path
    labels: list[str]
    frames: int
    reason: str  # why the loop ended, in words
    ok: bool
    summaries: list[SampleSummary]  # the sample's, over all its sessions (this session's, without one)
    frames_of_source: FrameCount | None = None  # a video's expected and decoded frames (ended early?)


def _ignore(_: object) -> None:
    pass


def run_capture(
    request: CaptureRequest,
    *,
    stop: threading.Event | None = None,
    on_start: Callable[[CaptureStarted], None] = _ignore,
    on_record: Callable[[CaptureRecord], None] = _ignore,
    on_notice: Callable[[str], None] = _ignore,
    on_call: Callable[[ScreeningCall], None] = _ignore,
    handle_signals: bool = False,
    trigger: threading.Event | None = None,
) -> CaptureResult:
    """Run one capture to its end. Set `stop` to end it after the current frame.

    With `trigger`, a field is taken each time it is set (a person's "capture this field"), not on
    the interval.
    `handle_signals` (main thread only) makes SIGINT/SIGTERM set `stop`, and a second Ctrl+C abort.
    """
    options = request.options
    stop = stop or threading.Event()
    source = parse_source(request.camera, settle_seconds=request.settle_seconds)
    if options.save_frames is not None and source.folder == options.save_frames.resolve():
        raise CaptureError("--save-frames must not be the watched folder (saved frames would be read again)")
    if options.save_heatmaps and options.save_frames is None:
        raise CaptureError("--save-heatmaps writes beside the saved frames: give --save-frames DIR too")
    model = request.model.path
    classifier = request.model.load(warn=lambda warning: on_notice(f"warning: {warning}"))
    cell_model = classifier.manifest is not None and classifier.manifest.reads_cells
    source.configure(frame_request(request, classifier.input_size, cell_model))
    manifest = classifier.manifest
    digest = manifest.model_sha256 if manifest is not None else sha256_file(classifier.model_path)
    threshold = resolve_threshold(options.threshold, classifier)  # recorded; the session judges by it
    db = request.db or default_db_path()
    with contextlib.ExitStack() as cleanup:
        # Two captures of one folder and sample would classify every image twice: the second refuses.
        source_key = os.path.realpath(source.folder) if source.folder is not None else source.spec
        sample = f"sample {options.sample_id}" if options.sample_id is not None else "no sample id"
        cleanup.enter_context(capture_lock(db, source_key, options.sample_id, f"{source.spec} ({sample})"))
        source.open()
        cleanup.callback(source.close)
        camera_settings = source.settings()
        if camera_settings and camera_settings.get("warning"):
            on_notice(camera_settings["warning"])
        store = cleanup.enter_context(ResultsStore.open(db))
        # A restart (power cut, service restart) must not classify a slide's images twice.
        skipped = source.skip(store.origins(source.spec, options.sample_id))
        if skipped:
            on_notice(f"skipping {skipped} image(s) already recorded for this folder and sample id")
        if handle_signals:
            cleanup.enter_context(_stop_on_signals(stop))
        try:
            session_id = store.start_session(
                SessionInfo(
                    started_at=now_iso(),
                    source=source.spec,
                    sample_id=options.sample_id,
                    model=str(model),
                    bundle_sha256=digest,
                    labels=list(classifier.labels),
                    threshold=threshold,
                    quality_thresholds=options.quality.to_dict() if options.quality else None,
                    edge_all_version=__version__,
                    screening_rule=options.screening,
                    unfamiliarity_threshold=classifier.referral.threshold if classifier.referral else None,
                    camera_settings=camera_settings,
                    um_per_px=options.camera_um_per_px,
                    site_sha256=options.site.sha256 if options.site is not None else None,
                    label_roles=dict(classifier.manifest.label_roles)
                    if classifier.manifest is not None and classifier.manifest.reads_cells
                    else None,
                )
            )
        except StorageFull as exc:
            raise StorageFull(f"disk full, nothing captured: {exc}") from None
        on_start(CaptureStarted(session_id, source.spec, db))
        session = CaptureSession(
            source, classifier, store, session_id, digest, options,
            stop=stop, on_record=on_record, on_notice=on_notice, on_call=on_call, trigger=trigger,
        )  # fmt: skip
        outcome = session.run()
        # The frames are committed; at worst the end time is lost (a full disk, a damaged file).
        with contextlib.suppress(StorageFull, StoreError):
            store.end_session(session_id, now_iso(), outcome.reason, outcome.frames_of_source)
        # The whole slide: a sample's earlier sessions (a restart after a power cut) count too; the
        # counts are the database's own (GROUP BY), not a second pass over every row.
        whole = (None, session_id) if options.sample_id is None else (options.sample_id, None)
        try:
            summaries = store.summaries(*whole, labels=classifier.labels, rule=options.screening)
        except StoreError as exc:
            on_notice(f"no summary: {exc}")
            summaries = []
    return CaptureResult(
        session_id=session_id,
        db=db,
        labels=list(classifier.labels),
        frames=outcome.frames,
        reason=outcome.reason,
        ok=outcome.ok,
        summaries=summaries,
        frames_of_source=outcome.frames_of_source,
    )


def frame_request(
    request: CaptureRequest, input_size: tuple[int, int], reads_cells: bool = False
) -> FrameRequest:
    """What the source must deliver for this capture: frames that cover the model's input (and,
    with the quality gate on, its 224-pixel analysis copy), full size only to save them. A cell model
    reads white cells at its own scale, which a frame shrunk to the model's input would lose: its
    frames come as the camera delivers them (the pipeline shrinks them to the bundle's scale)."""
    height, width = input_size
    side = ANALYSIS_SIDE if request.options.quality is not None else 0
    return FrameRequest(
        min_size=None if reads_cells else (max(width, side), max(height, side)),
        capture_size=request.capture_size,
        full_resolution=request.options.save_frames is not None,
        lock_exposure=request.lock_exposure,
        settle_frames=request.settle_frames,
    )


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM finish the current frame; a second Ctrl+C aborts at once."""

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        # os.write, not print: a handler may interrupt a print to stderr (reentrant buffered I/O).
        message = f"{signal.Signals(signum).name}: finishing the current frame, then stopping\n"
        os.write(2, message.encode())

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
