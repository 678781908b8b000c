"""The capture loop: read a frame, check its quality, classify, save, record; repeat until told to stop.

Each frame is committed to the database before the next one is read, so a crash, a kill or a
power cut loses at most the frame in flight. A stop request (the caller sets `stop`; the CLI does so
on SIGINT/SIGTERM) is honoured between frames; a camera that goes away is retried with backoff until
it comes back or `reconnect_timeout` passes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from edge_all.capture.frames import save_frame
from edge_all.capture.options import CaptureOptions
from edge_all.capture.sources import EndOfSource, Frame, FrameSource, SourceUnavailable
from edge_all.cells.scale import ScaleEstimate, scale_of
from edge_all.clock import now_iso
from edge_all.digest import sha256_file
from edge_all.errors import EdgeAllError
from edge_all.results.errors import DatabaseGone, StorageFull, StoreError
from edge_all.results.judged import JudgedField
from edge_all.results.store import (
    CaptureRecord,
    FrameCount,
    ResultsStore,
    as_unrecordable,
    is_disk_full,
    non_finite_numbers,
)
from edge_all.runtime.classifier import Classifier, Predictor
from edge_all.runtime.heatmaps import overlay
from edge_all.safe_text import utf8_safe
from edge_all.triage.cells import CellReader
from edge_all.triage.decision import assess_field, reads_cells
from edge_all.triage.drift import SCALE_EVERY
from edge_all.triage.screening import ScreeningCall
from edge_all.triage.status import Status

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0)  # then every RECONNECT_DELAYS[-1] seconds


class CaptureError(EdgeAllError):
    """A capture that cannot start, or that ended on an error (camera gone for good, disk full)."""


@dataclass(frozen=True)
class CaptureOutcome:
    frames: int
    reason: str  # why the loop ended, in words
    ok: bool  # False when it ended on an error (camera gone for good, disk full)
    frames_of_source: FrameCount | None = None  # a video's expected and decoded frames, at its end


class CaptureSession:
    def __init__(
        self,
        source: FrameSource,
        predictor: Predictor,
        store: ResultsStore,
        session_id: int,
        bundle_sha256: str,
        options: CaptureOptions,
        stop: threading.Event | None = None,
        on_record: Callable[[CaptureRecord], None] = lambda record: None,
        on_notice: Callable[[str], None] = lambda message: None,
        on_call: Callable[[ScreeningCall], None] = lambda call: None,
        trigger: threading.Event | None = None,
    ) -> None:
        self.source = source
        # Set by a person for each field (a station's "Capture this field"): the loop then waits for
        # it instead of the interval, so a manual stage can be moved and focused first.
        self.trigger = trigger
        self.predictor = predictor
        self.store = store
        self.session_id = session_id
        self.bundle_sha256 = bundle_sha256
        self.options = options
        self.stop = stop or threading.Event()
        self.on_record = on_record
        self.on_call = on_call  # the sample's screening call, whenever a frame changes it
        self._cell_reader: CellReader | None = None
        if options.site is not None and reads_cells(predictor) and isinstance(predictor, Classifier):
            # the site's stain reference
            self._cell_reader = CellReader(
                predictor, options.site.profile.stain.statistics, options.site.profile.threshold.threshold
            )
        self._call: ScreeningCall | None = None
        self._heatmap: np.ndarray | None = None  # the current frame's overlay, when asked for
        # A camera's scale, estimated from the first frame whose red cells gave one, in the pixels the
        # camera delivers: the same microscope and objective for the whole slide, so later frames
        # reuse it rather than pay the estimate again (files in a folder are estimated one by one).
        self._camera_um_per_px: float | None = None
        self._fields_read = 0  # fields judged: the drift's scale check runs on every SCALE_EVERY-th
        self.on_notice = on_notice
        session = store.session(session_id)
        # The one confidence threshold, as the session recorded it (run_capture resolved it once:
        # the option's, else the bundle's), so every frame is judged by what the database says.
        self.threshold = float(session["threshold"])
        # Names saved frames: random and unique for ever, unlike the session id (which restarts at
        # 1 in a new database), so a new patient's frames can never overwrite an earlier one's.
        self.session_uid = str(session["uid"])

    # ---- the loop -----------------------------------------------------------------------------
    def run(self) -> CaptureOutcome:
        """Capture until count, duration, the end of the source, a stop request, or a fatal error.

        The source must already be open (so a missing camera fails before a session is recorded).
        """
        opts = self.options
        interval = opts.interval if opts.interval is not None else self.source.default_interval
        started = time.monotonic()
        deadline = started + opts.duration if opts.duration is not None else None
        frames = 0
        next_capture = started
        while True:
            if self.stop.is_set():
                return CaptureOutcome(frames, "stopped by signal", True)
            if opts.count is not None and frames >= opts.count:
                return CaptureOutcome(frames, f"{frames} frames captured", True)
            if deadline is not None and time.monotonic() >= deadline:
                return CaptureOutcome(frames, f"duration of {opts.duration:g} s reached", True)
            if self.trigger is not None:
                waited = self._wait_for_trigger(deadline)
            else:
                waited = self._wait_until(next_capture, deadline)
            if not waited:
                continue  # stopped or out of time: the checks above say which
            try:
                frame = self.source.read()
            except EndOfSource as end:
                return CaptureOutcome(frames, str(end), True, end.frames)
            except SourceUnavailable as lost:
                if not self._reconnect(str(lost), deadline):
                    return CaptureOutcome(
                        frames, f"{lost}; not back after {opts.reconnect_timeout:g} s, giving up", False
                    )
                continue
            if frame is None:  # a folder with nothing new yet
                self.stop.wait(opts.poll_seconds)
                continue
            next_capture = max(next_capture + interval, time.monotonic()) if interval else 0.0
            try:
                record, call = self._process(frame)
                self.on_record(record)
                self._report_call(call)
            except StorageFull as full:
                return CaptureOutcome(frames, f"disk full, stopped: {full}", False)
            except DatabaseGone as gone:  # this frame was committed, and rescued with the others
                return CaptureOutcome(frames + 1, str(gone), False)
            except (StoreError, sqlite3.Error) as exc:  # locked for too long, I/O error, damaged file
                return CaptureOutcome(frames, f"results database error, stopped: {exc}", False)
            frames += 1

    def _wait_until(self, moment: float, deadline: float | None) -> bool:
        """Sleep until `moment`; False when a stop request or the deadline came first."""
        target = moment if deadline is None else min(moment, deadline)
        remaining = target - time.monotonic()
        if remaining > 0 and self.stop.wait(remaining):
            return False
        return deadline is None or time.monotonic() < deadline

    def _wait_for_trigger(self, deadline: float | None) -> bool:
        """Wait until a person asks for the next field; False when a stop or the deadline came first."""
        assert self.trigger is not None
        while not self.trigger.wait(0.1):
            if self.stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return False
        self.trigger.clear()
        return not self.stop.is_set()

    def _reconnect(self, message: str, deadline: float | None) -> bool:
        """Reopen the source with backoff; True once it delivers again."""
        limit = time.monotonic() + self.options.reconnect_timeout
        self.on_notice(f"{message}; retrying for up to {self.options.reconnect_timeout:g} s")
        self.source.close()
        attempt = 0
        lost_at = time.monotonic()
        while True:
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            delay = min(delay, max(0.0, limit - time.monotonic()))
            if self.stop.wait(delay) or (deadline is not None and time.monotonic() >= deadline):
                return True  # the main loop sees the stop request or the deadline
            attempt += 1
            try:
                self.source.open()
            except SourceUnavailable as exc:
                if time.monotonic() >= limit:
                    return False
                self.on_notice(f"still unavailable (attempt {attempt}): {exc}")
                continue
            self.on_notice(f"{self.source.spec} is back after {time.monotonic() - lost_at:.1f} s; continuing")
            return True

    # ---- one frame ----------------------------------------------------------------------------
    def _process(self, frame: Frame) -> tuple[CaptureRecord, ScreeningCall]:
        """Judge, keep and store one frame: its record as stored, and its sample's call."""
        opts = self.options
        self._heatmap = None
        captured_at = now_iso()
        fields: dict = {}
        if frame.rgb is None:
            fields.update(status=Status.ERROR, reason=frame.error or "frame could not be read")
        else:
            try:
                fields.update(self._judge_and_classify(frame, self._site_scale(frame)))
            except Exception as exc:
                # Recorded and skipped, never fatal: a restarted service must not stop on it again.
                reason = f"could not be processed ({type(exc).__name__}: {exc})"
                fields.update(status=Status.ERROR, reason=reason)
        kept = self._keep_image(frame)
        if "reason" in kept and fields.get("reason"):
            kept["reason"] = f"{fields['reason']}; {kept['reason']}"
        fields.update(kept)
        record = CaptureRecord(
            session_id=self.session_id,
            captured_at=captured_at,
            sample_id=opts.sample_id,
            source=self.source.spec,
            frame_index=frame.index,
            origin=frame.origin,
            bundle_sha256=self.bundle_sha256,
            **fields,
        )
        problems = non_finite_numbers(record)
        if problems:  # recorded as an error, and the capture goes on
            record = as_unrecordable(record, problems)
        stored = self.store.add(record)
        return replace(record, id=stored.id), stored.call

    def _site_scale(self, frame: Frame) -> ScaleEstimate | None:
        """The session's scale for its camera, at the pixels of the frame as the loop reads it."""
        um = self.options.camera_um_per_px
        if um is not None and frame.rgb is not None:
            return ScaleEstimate.given(um * _shrink_of(frame), "site")
        if self._camera_um_per_px is not None and frame.rgb is not None:
            return ScaleEstimate(self._camera_um_per_px * _shrink_of(frame), "estimated")
        return None

    def _judge_and_classify(self, frame: Frame, site: ScaleEstimate | None = None) -> dict:
        opts = self.options
        rgb = frame.rgb
        assert rgb is not None
        try:
            cells = reads_cells(self.predictor)
            scale = scale_of(rgb, site, cells)
            if site is None and scale.um_per_px is not None and frame.file is None:
                self._camera_um_per_px = scale.um_per_px / _shrink_of(frame)  # reused for the slide
            field = assess_field(
                rgb, self.predictor, opts.quality, self.threshold, opts.tta, opts.save_heatmaps,
                scale=scale, reads_cells=cells, cell_reader=self._cell_reader,
                site=opts.site.profile if opts.site is not None else None,
                check_site_scale=self._fields_read % SCALE_EVERY == 0,
            )  # fmt: skip
            self._fields_read += 1
        except EdgeAllError as exc:  # an unreadable frame, a model that failed to run: recorded, not fatal
            return {"status": Status.ERROR, "reason": f"classification failed: {exc}"}
        prediction = field.prediction
        if prediction is not None and prediction.heatmap is not None:
            self._heatmap = overlay(field.pixels, prediction.heatmap)
        return JudgedField.of(field, self.predictor.labels).record_fields()

    def _keep_image(self, frame: Frame) -> dict:
        """Save the frame when asked; otherwise a folder frame is already a file on disk."""
        opts = self.options
        try:
            if opts.save_frames is not None and frame.rgb is not None:
                stem = f"session{self.session_id:04d}-{self.session_uid}-{frame.index:06d}"
                saved = save_frame(frame.to_save, opts.save_frames, stem, opts.frame_format)
                kept = {"image_path": str(saved.path), "image_sha256": saved.sha256}
                if self._heatmap is not None:  # the overlay, on the pixels the model saw
                    kept["heatmap_path"] = str(
                        save_frame(self._heatmap, opts.save_frames, f"{stem}-heatmap").path
                    )
                return kept
            if frame.file is not None:
                return {"image_path": utf8_safe(str(frame.file)), "image_sha256": sha256_file(frame.file)}
        except OSError as exc:
            if is_disk_full(exc):
                raise StorageFull(f"cannot save frame in {opts.save_frames}: {exc.strerror}") from None
            where = f"{utf8_safe(str(exc.filename))}: " if exc.filename else ""
            return {"reason": f"image not kept: {where}{exc.strerror or exc}"}
        return {}

    def _report_call(self, call: ScreeningCall) -> None:
        """Tell the caller the sample's call (the store keeps it up to date with every frame) when it
        changes."""
        if call != self._call:
            self._call = call
            self.on_call(call)


def _shrink_of(frame: Frame) -> float:
    """How many of the source's pixels one pixel of the frame as the loop reads it spans (>= 1)."""
    assert frame.rgb is not None
    return (frame.native_width or frame.rgb.shape[1]) / frame.rgb.shape[1]
