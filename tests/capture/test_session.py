"""The capture loop end to end in-process: real sources, the suite's own int8 bundle, a real SQLite file.

Nothing here waits for the clock to line things up: what happens next is triggered by what the
session reports (its records and notices), and the only timeouts guard against a hang.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import numpy as np
import pytest

from edge_all.capture.folder_source import FolderSource
from edge_all.capture.opencv_sources import VideoFile
from edge_all.capture.options import CaptureOptions
from edge_all.capture.session import CaptureSession
from edge_all.capture.sources import SourceUnavailable
from edge_all.results.store import ResultsStore, SessionInfo

from .helpers import blurred, darkened, save_images, write_video

pytest.importorskip("cv2")

HANG_GUARD_S = 120  # only a hung session takes this long


def run_session(
    tmp_path,
    source,
    classifier,
    options: CaptureOptions,
    stop: threading.Event | None = None,
    on_record: Callable = lambda record: None,
    on_notice: Callable = lambda message: None,
):
    """Open the source and run one session into tmp_path/results.db in a worker thread.

    Returns (outcome, rows, notices); fails the test if the session has not ended in HANG_GUARD_S.
    """
    notices: list[str] = []
    done: dict = {}

    def notice(message: str) -> None:
        notices.append(message)
        on_notice(message)

    def work() -> None:
        store = ResultsStore.open(tmp_path / "results.db")
        info = SessionInfo(
            started_at="t0",
            source=source.spec,
            sample_id=options.sample_id,
            model="int8 bundle",
            bundle_sha256="c0" * 32,
            labels=list(classifier.labels),
            threshold=options.threshold if options.threshold is not None else classifier.confidence_threshold,
            quality_thresholds=None,
            edge_all_version="test",
        )
        session_id = store.start_session(info)
        source.open()
        try:
            session = CaptureSession(
                source, classifier, store, session_id, "c0" * 32, options,
                stop=stop, on_record=on_record, on_notice=notice,
            )  # fmt: skip
            done["outcome"], done["session_id"] = session.run(), session_id
        except BaseException as exc:  # noqa: BLE001  handed to the test's thread below
            done["error"] = exc
        finally:
            source.close()
            store.close()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert not worker.is_alive(), f"the session did not end; notices: {notices}"
    if "error" in done:
        raise done["error"]
    with ResultsStore.open(tmp_path / "results.db", create=False) as again:
        rows = list(again.captures(session_id=done["session_id"]))
    return done["outcome"], rows, notices


def test_video_frames_are_gated_classified_and_recorded(tmp_path, smear_frames, smear_classifier):
    frames = [smear_frames[0], blurred(smear_frames[1]), darkened(smear_frames[2]), smear_frames[3]]
    video = write_video(tmp_path / "fields.avi", frames)
    options = CaptureOptions(sample_id="S1", threshold=0.0, save_frames=tmp_path / "saved")
    outcome, rows, _ = run_session(tmp_path, VideoFile(f"video:{video}", video), smear_classifier, options)
    assert outcome.ok and outcome.frames == 4 and "end after 4 frames" in outcome.reason
    assert [row["status"] for row in rows] == ["classified", "rejected", "rejected", "classified"]
    assert rows[1]["reason"].startswith("out_of_focus:") and rows[2]["reason"].startswith("too_dark:")
    assert rows[1]["label"] is None and rows[1]["inference_ms"] is None  # rejected frames are not classified
    assert all(row["sample_id"] == "S1" and row["focus"] is not None for row in rows)
    assert len(list((tmp_path / "saved").iterdir())) == 4  # every frame kept, rejected ones too
    # What was recorded is what the classifier says about the very pixels it was given (the saved
    # PNG is lossless, so it holds exactly the decoded video frame).
    for row in (rows[0], rows[3]):
        prediction = smear_classifier.predict(row["image_path"])
        assert row["label"] == prediction.label and row["confidence"] == pytest.approx(prediction.confidence)
        recorded = json.loads(row["probabilities"])
        assert list(recorded) == smear_classifier.labels
        np.testing.assert_allclose(list(recorded.values()), prediction.probabilities, atol=1e-6)
        assert row["inference_ms"] > 0


def test_low_confidence_is_uncertain(tmp_path, smear_frames, smear_classifier):
    video = write_video(tmp_path / "fields.avi", smear_frames[:3])
    options = CaptureOptions(threshold=0.999, count=2)  # above what a uint8 softmax can say (255/256)
    outcome, rows, _ = run_session(tmp_path, VideoFile(f"video:{video}", video), smear_classifier, options)
    assert outcome.frames == 2 and "2 frames captured" in outcome.reason  # --count stops early
    assert [row["status"] for row in rows] == ["uncertain", "uncertain"]
    assert all(row["label"] and row["confidence"] < 0.999 for row in rows)


class FlakyVideo(VideoFile):
    """A real video whose camera 'drops out' at frame 2 and comes back only when `back` is set."""

    def __init__(self, spec, path, back: threading.Event) -> None:
        super().__init__(spec, path)
        self.back, self.lost = back, False

    def read(self):
        if self._next == 2 and not self.back.is_set():
            self.lost = True
            raise SourceUnavailable(f"camera {self.spec}: stopped delivering frames")
        return super().read()

    def open(self):
        if self.lost and not self.back.is_set():
            raise SourceUnavailable(f"camera {self.spec}: cannot be opened")
        super().open()


def test_a_camera_that_drops_out_is_retried_and_resumes(tmp_path, smear_frames, smear_classifier):
    video = write_video(tmp_path / "fields.avi", smear_frames[:5])
    back = threading.Event()

    def plug_it_back_in(message: str) -> None:
        if message.startswith("still unavailable (attempt 1)"):  # one reopening failed: now it returns
            back.set()

    source = FlakyVideo(f"video:{video}", video, back)
    outcome, rows, notices = run_session(
        tmp_path,
        source,
        smear_classifier,
        CaptureOptions(reconnect_timeout=HANG_GUARD_S),
        on_notice=plug_it_back_in,
    )
    assert outcome.ok and [row["frame_index"] for row in rows] == [0, 1, 2, 3, 4]  # nothing lost or repeated
    assert "retrying" in notices[0]
    assert notices[1].startswith("still unavailable (attempt 1): camera video:")
    assert notices[2].startswith(f"video:{video} is back after") and len(notices) == 3


def test_a_camera_that_stays_away_ends_the_session_after_the_timeout(
    tmp_path, smear_frames, smear_classifier
):
    video = write_video(tmp_path / "fields.avi", smear_frames[:4])
    source = FlakyVideo(f"video:{video}", video, threading.Event())  # never comes back
    outcome, rows, notices = run_session(
        tmp_path, source, smear_classifier, CaptureOptions(reconnect_timeout=1.0)
    )
    assert not outcome.ok and "giving up" in outcome.reason and "not back after 1 s" in outcome.reason
    assert len(rows) == 2 and "retrying for up to 1 s" in notices[0]
    assert not any("is back" in n for n in notices)


def test_watched_folder_gets_files_while_running_and_survives_being_moved(
    tmp_path, smear_frames, smear_classifier
):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:2], prefix="a")
    recorded: list = []

    def microscope_software(record) -> None:  # acts on what the session has recorded so far
        recorded.append(record)
        if len(recorded) == 2:
            save_images(folder, smear_frames[2:4], prefix="b")
        if len(recorded) == 4:
            folder.rename(tmp_path / "unmounted")  # e.g. a network share dropping out

    def share_comes_back(message: str) -> None:
        if message.startswith("still unavailable"):
            (tmp_path / "unmounted").rename(folder)
            save_images(folder, smear_frames[4:5], prefix="c")

    source = FolderSource(f"folder:{folder}", folder, settle_seconds=0.0)
    options = CaptureOptions(sample_id="slide-7", count=5, reconnect_timeout=HANG_GUARD_S)
    outcome, rows, notices = run_session(
        tmp_path, source, smear_classifier, options, on_record=microscope_software, on_notice=share_comes_back
    )
    assert outcome.ok and outcome.frames == 5
    names = [row["origin"].rsplit("/", 1)[-1] for row in rows]
    assert sorted(names[:2]) == ["a-000.png", "a-001.png"] and sorted(names[2:4]) == [
        "b-000.png",
        "b-001.png",
    ]
    assert names[4] == "c-000.png"
    assert all(row["image_sha256"] and row["image_path"] == row["origin"] for row in rows)
    assert "disappeared" in notices[0] and any("is back" in n for n in notices)


def test_a_stop_request_ends_an_idle_session(tmp_path, smear_frames, smear_classifier):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:2])
    stop, both_recorded = threading.Event(), threading.Event()

    def on_record(record) -> None:
        if record.frame_index == 1:
            both_recorded.set()

    def station() -> None:  # another thread presses stop once the folder is done
        assert both_recorded.wait(HANG_GUARD_S)
        stop.set()

    presser = threading.Thread(target=station, daemon=True)
    presser.start()
    source = FolderSource(f"folder:{folder}", folder, settle_seconds=0.0)
    outcome, rows, _ = run_session(
        tmp_path, source, smear_classifier, CaptureOptions(), stop=stop, on_record=on_record
    )
    presser.join(HANG_GUARD_S)
    assert outcome.ok and outcome.reason == "stopped by signal" and len(rows) == 2


def test_a_stop_request_during_a_frame_finishes_that_frame_first(tmp_path, smear_frames, smear_classifier):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:3])
    stop = threading.Event()

    class StoppedMidFrame:
        """The real classifier; the stop request arrives while it classifies the first frame."""

        def __getattr__(self, name):
            return getattr(smear_classifier, name)

        def predict_pixels(self, *args, **kwargs):
            stop.set()
            return smear_classifier.predict_pixels(*args, **kwargs)

    source = FolderSource(f"folder:{folder}", folder, settle_seconds=0.0)
    outcome, rows, _ = run_session(tmp_path, source, StoppedMidFrame(), CaptureOptions(), stop=stop)
    assert outcome.ok and outcome.reason == "stopped by signal" and outcome.frames == 1
    assert len(rows) == 1 and rows[0]["label"] in smear_classifier.labels


def test_a_full_database_stops_the_session(tmp_path, smear_frames, smear_classifier):
    video = write_video(tmp_path / "fields.avi", smear_frames * 8)
    store = ResultsStore.open(tmp_path / "results.db")
    session_id = store.start_session(
        SessionInfo("t0", "video", None, "int8", "c0" * 32, list(smear_classifier.labels), 0.6, None, "test")
    )
    # Two spare pages hold a few rows of four probabilities and quality figures, not 64.
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages + 2}")
    source = VideoFile(f"video:{video}", video)
    source.open()
    outcome = CaptureSession(source, smear_classifier, store, session_id, "c0" * 32, CaptureOptions()).run()
    source.close()
    store.close()
    assert not outcome.ok and "disk full" in outcome.reason
    with ResultsStore.open(tmp_path / "results.db", create=False) as again:
        assert 0 < len(list(again.captures())) == outcome.frames < 64
