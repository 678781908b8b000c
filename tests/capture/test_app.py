"""run_capture, the capture application, as a web station will call it: from a background thread,
with its own stop Event and callbacks, and no signal handlers touched."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from edge_all.capture.app import CaptureStarted, run_capture
from edge_all.capture.options import CaptureOptions, CaptureRequest
from edge_all.capture.session import CaptureError
from edge_all.capture.sources import SourceUnavailable
from edge_all.results.store import ResultsStore
from edge_all.runtime.choice import ModelChoice

from .helpers import save_images


def test_a_capture_runs_in_a_background_thread_and_stops_on_its_event(tmp_path, int8_bundle, smear_frames):
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    save_images(folder, smear_frames[:3])
    request = CaptureRequest(
        model=ModelChoice(int8_bundle),
        camera=f"folder:{folder}",
        db=db,
        settle_seconds=0.1,
        options=CaptureOptions(sample_id="S1"),
    )
    stop, started, records, handlers, results = threading.Event(), [], [], [], []
    default_handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))

    def on_record(record):
        records.append(record)
        handlers.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        if len(records) == 3:
            stop.set()  # what a station's "stop" button does

    def station():
        results.append(run_capture(request, stop=stop, on_start=started.append, on_record=on_record))

    worker = threading.Thread(target=station)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the capture did not stop on its Event"
    (result,) = results
    assert started == [CaptureStarted(result.session_id, f"folder:{folder}", db)]
    assert result.ok and result.frames == 3 and result.reason == "stopped by signal"
    assert result.labels == ["Benign", "Early", "Pre", "Pro"]
    (summary,) = result.summaries
    assert summary.sample_id == "S1" and summary.counts.fields == 3
    assert handlers == [default_handlers] * 3  # nothing was installed from the capture's thread
    with ResultsStore.open(db, create=False) as store:
        assert [row["id"] for row in store.captures(session_id=result.session_id)] == [r.id for r in records]
        (session,) = store.sessions()
    assert session["end_reason"] == "stopped by signal" and session["sample_id"] == "S1"


def test_a_source_that_cannot_open_raises_before_a_session_is_recorded(tmp_path, int8_bundle):
    request = CaptureRequest(
        model=ModelChoice(int8_bundle), camera=f"folder:{tmp_path / 'absent'}", db=tmp_path / "r.db"
    )
    with pytest.raises(SourceUnavailable, match="no such folder"):
        run_capture(request)
    assert not (tmp_path / "r.db").exists()


def test_a_folder_is_known_however_it_is_spelled(tmp_path, int8_bundle, smear_frames, monkeypatch):
    """A restart must not classify a slide's images again because the folder was typed differently."""
    monkeypatch.chdir(tmp_path)
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(folder, target_is_directory=True)
    spellings = [
        "folder:drop",
        "folder:./drop",
        "folder:drop/",
        f"folder:{folder}",
        "folder:sub/../drop",
        "folder:link",
    ]
    for i, camera in enumerate(spellings):
        save_images(folder, smear_frames[i : i + 1], prefix=f"run{i}")  # one new image before each run
        request = CaptureRequest(
            model=ModelChoice(int8_bundle),
            camera=camera,
            db=db,
            settle_seconds=0.0,
            options=CaptureOptions(sample_id="S1", count=1),
        )
        notices: list[str] = []
        result = run_capture(request, on_notice=notices.append)
        assert result.frames == 1, camera
        skips = [notice for notice in notices if notice.startswith("skipping")]
        assert skips == (
            [f"skipping {i} image(s) already recorded for this folder and sample id"] if i else []
        )
    with ResultsStore.open(db, create=False) as store:
        origins = [row["origin"] for row in store.captures(sample_id="S1")]
        sources = {session["source"] for session in store.sessions()}
    assert origins == [str(folder / f"run{i}-000.png") for i in range(len(spellings))]  # each image once
    assert sources == {f"folder:{folder}"}


def test_frames_are_never_saved_into_the_watched_folder_however_it_is_spelled(
    tmp_path, int8_bundle, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "drop").mkdir()
    for save_frames in (Path("drop"), Path("./drop/"), tmp_path / "drop", tmp_path / "drop" / ".." / "drop"):
        request = CaptureRequest(
            model=ModelChoice(int8_bundle), camera="folder:drop", db=tmp_path / "r.db",
            options=CaptureOptions(save_frames=save_frames, duration=0.5),  # ends, should the check miss
        )  # fmt: skip
        with pytest.raises(CaptureError, match="--save-frames must not be the watched folder"):
            run_capture(request)
    assert not (tmp_path / "r.db").exists()
