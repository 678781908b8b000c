"""The station's one capture at a time, run in a background thread of the server process.

The capture lives here, not in a browser: closing the page, losing the network or reloading changes
nothing; a page only reads `snapshot()`. The thread runs edge_all.capture.app.run_capture (the same
capture application as the CLI) with its own stop Event, which the Stop button and the server's
shutdown set; it never installs signal handlers (uvicorn owns them, in the main thread).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edge_all.capture.app import CaptureResult, CaptureStarted, run_capture
from edge_all.capture.lock import CaptureBusy
from edge_all.capture.options import CaptureRequest
from edge_all.clock import now_iso
from edge_all.errors import EdgeAllError, UsageError
from edge_all.results.store import CaptureRecord
from edge_all.station.config import StationConfig
from edge_all.station.site import StationSite
from edge_all.station.words import outcome_words
from edge_all.triage.screening import ScreeningCall
from edge_all.triage.site_limits import site_thresholds

log = logging.getLogger("edge_all.station")
RECENT_FIELDS = 12  # field ids the live view shows as a strip
RECENT_NOTICES = 5
MAX_SAMPLE_ID = 100


def clean_sample_id(text: str) -> str:
    """A sample id as typed or scanned: trimmed, 1 to 100 characters, no control characters."""
    sample_id = text.strip()
    if not sample_id:
        raise UsageError("enter or scan a sample id")
    if len(sample_id) > MAX_SAMPLE_ID:
        raise UsageError(f"a sample id has at most {MAX_SAMPLE_ID} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in sample_id):
        raise UsageError("a sample id cannot contain control characters")
    return sample_id


@dataclass
class CaptureState:
    """What the live view shows; copied out under the runner's lock."""

    state: str = "idle"  # idle, starting, running, stopping, finished, failed
    sample_id: str | None = None
    session_id: int | None = None
    source: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    frames: int = 0
    last: dict[str, Any] | None = None  # the last recorded field
    recent: list[int] = field(default_factory=list)  # ids of the last fields, newest last
    call: dict[str, str] | None = None
    notices: list[str] = field(default_factory=list)
    outcome: str | None = None  # why it ended, or why it could not start (in words)
    ok: bool | None = None
    stopped_by: str | None = None  # who asked it to stop, in words
    mode: str = "timed"  # timed (one field every interval) or manual (Capture this field)
    asked: int = 0  # manual: fields asked for so far (frames < asked: one is being taken)

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running", "stopping")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "active": self.active}


class CaptureRunner:
    def __init__(self, config: StationConfig, site: StationSite | None = None) -> None:
        self.config = config
        self.site = site or StationSite(config.site_path, config.model)
        self._lock = threading.Lock()
        self._state = CaptureState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recent: deque[int] = deque(maxlen=RECENT_FIELDS)
        self._notices: deque[str] = deque(maxlen=RECENT_NOTICES)
        self._trigger: threading.Event | None = None

    def request_for(self, sample_id: str, count: int | None = None) -> CaptureRequest:
        config = self.config
        options = dataclasses.replace(config.capture, sample_id=sample_id, count=count)
        site = self.site.current().site  # read again for every slide: a new commissioning counts
        if site is not None:  # its scale, stain reference and quality limits; its sha256 recorded
            quality = (
                None if options.quality is None else site_thresholds(options.quality, site.profile.quality)
            )
            options = dataclasses.replace(options, site=site, um_per_px=None, quality=quality)
        return CaptureRequest(model=config.model, camera=config.camera, db=config.db, options=options)

    def start(self, sample_id: str, count: int | None = None, manual: bool = False) -> None:
        """Start capturing a slide, or raise CaptureBusy (one camera, one slide at a time); problems
        after this show in the state. `manual`: a field is taken only when `capture_field` is called."""
        request = self.request_for(clean_sample_id(sample_id), count)
        with self._lock:
            if self._state.active:
                raise CaptureBusy(f"a capture of {self._state.sample_id!r} is running: stop it first")
            self._stop = threading.Event()
            self._recent.clear()
            self._notices.clear()
            self._state = CaptureState(
                state="starting", sample_id=request.options.sample_id, started_at=now_iso(),
                mode="manual" if manual else "timed",
            )  # fmt: skip
            self._trigger = threading.Event() if manual else None
            self._thread = threading.Thread(
                target=self._run,
                args=(request, self._stop, self._trigger),
                name="station-capture",
                daemon=True,
            )
            self._thread.start()

    def capture_field(self) -> None:
        """Take the next field now (a manual capture): the stage is on a new field, in focus."""
        with self._lock:
            if not self._state.active or self._trigger is None:
                raise UsageError("no capture is waiting for Capture this field: start one first")
            self._state.asked = max(self._state.asked, self._state.frames) + 1
            self._trigger.set()

    def stop(self, why: str = "Stop was pressed") -> None:
        """Ask the capture to stop after the frame in hand (it is recorded first)."""
        with self._lock:
            if self._state.active:
                self._stop.set()
                self._state.state = "stopping"
                self._state.stopped_by = self._state.stopped_by or why

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop and wait for the capture thread: the server is going away."""
        self.stop("the station was shut down")
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def snapshot(self) -> CaptureState:
        with self._lock:
            return dataclasses.replace(
                self._state, recent=list(self._recent), notices=list(self._notices),
                last=dict(self._state.last) if self._state.last else None,
            )  # fmt: skip

    # ---- the thread --------------------------------------------------------------------------
    def _run(self, request: CaptureRequest, stop: threading.Event, trigger: threading.Event | None) -> None:
        try:
            result = run_capture(
                request, stop=stop, on_start=self._started, on_record=self._recorded,
                on_notice=self._notice, on_call=self._called, trigger=trigger,
            )  # fmt: skip
        except EdgeAllError as exc:
            self._ended(None, str(exc))
        except Exception as exc:  # a bug: keep the server up, say so, and log the traceback
            log.exception("capture failed")
            self._ended(None, f"internal error: {exc!r} (see the service log)")
        else:
            self._ended(result, result.reason)

    def _started(self, started: CaptureStarted) -> None:
        with self._lock:
            self._state.session_id = started.session_id
            self._state.source = started.source
            if self._state.state == "starting":
                self._state.state = "running"

    def _recorded(self, record: CaptureRecord) -> None:
        with self._lock:
            self._state.frames += 1
            self._state.last = {
                "id": record.id, "status": record.status, "label": record.label,
                "confidence": record.confidence, "reason": record.reason, "quality": dict(record.quality),
                "unfamiliarity": record.unfamiliarity, "captured_at": record.captured_at,
                "has_image": record.image_path is not None, "cells": len(record.cells), "drift": record.drift,
            }  # fmt: skip
            if record.id is not None and record.image_path is not None:
                self._recent.append(record.id)

    def _notice(self, message: str) -> None:
        with self._lock:
            self._notices.append(message)

    def _called(self, call: ScreeningCall) -> None:
        with self._lock:
            self._state.call = call.to_dict()

    def _ended(self, result: CaptureResult | None, outcome: str) -> None:
        with self._lock:
            self._state.state = "finished" if result is not None and result.ok else "failed"
            self._state.outcome = outcome_words(outcome, self._state.stopped_by)
            self._state.ok = result is not None and result.ok
            self._state.ended_at = now_iso()
