"""The capture loop end to end in-process: real sources, a real TFLite model, a real SQLite file."""

from __future__ import annotations

import threading
import time

import pytest

from edge_all.capture.folder_source import FolderSource
from edge_all.capture.opencv_sources import VideoFile
from edge_all.capture.options import CaptureOptions
from edge_all.capture.session import CaptureSession
from edge_all.capture.sources import SourceUnavailable
from edge_all.capture.store import ResultsStore, SessionInfo

from .helpers import blurred, darkened, save_images, write_video

pytest.importorskip("cv2")


def run_session(tmp_path, source, classifier, options: CaptureOptions, stop=None):
    """Open the source, run one session into tmp_path/results.db; returns (outcome, rows, notices)."""
    notices: list[str] = []
    store = ResultsStore.open(tmp_path / "results.db")
    info = SessionInfo(
        started_at="t0",
        source=source.spec,
        sample_id=options.sample_id,
        model="coral",
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
            source, classifier, store, session_id, "c0" * 32, options, stop=stop, on_notice=notices.append
        )
        outcome = session.run()
    finally:
        source.close()
        store.close()
    with ResultsStore.open(tmp_path / "results.db", create=False) as again:
        rows = list(again.captures(session_id=session_id))
    return outcome, rows, notices


def test_video_frames_are_gated_classified_and_recorded(tmp_path, smear_frames, coral_classifier):
    frames = [smear_frames[0], blurred(smear_frames[1]), darkened(smear_frames[2]), smear_frames[3]]
    video = write_video(tmp_path / "fields.avi", frames)
    options = CaptureOptions(sample_id="S1", threshold=0.0, save_frames=tmp_path / "saved")
    outcome, rows, _ = run_session(tmp_path, VideoFile(f"video:{video}", video), coral_classifier, options)
    assert outcome.ok and outcome.frames == 4 and "end after 4 frames" in outcome.reason
    assert [row["status"] for row in rows] == ["classified", "rejected", "rejected", "classified"]
    assert rows[1]["reason"].startswith("out_of_focus:") and rows[2]["reason"].startswith("too_dark:")
    assert rows[1]["label"] is None and rows[1]["inference_ms"] is None  # rejected frames are not classified
    assert rows[0]["label"] in coral_classifier.labels and rows[0]["inference_ms"] > 0
    assert all(row["sample_id"] == "S1" and row["focus"] is not None for row in rows)
    assert len(list((tmp_path / "saved").iterdir())) == 4  # every frame kept, rejected ones too


def test_low_confidence_is_uncertain(tmp_path, smear_frames, coral_classifier):
    video = write_video(tmp_path / "fields.avi", smear_frames[:3])
    options = CaptureOptions(threshold=0.999, count=2)
    outcome, rows, _ = run_session(tmp_path, VideoFile(f"video:{video}", video), coral_classifier, options)
    assert outcome.frames == 2 and "2 frames captured" in outcome.reason  # --count stops early
    assert [row["status"] for row in rows] == ["uncertain", "uncertain"]
    assert all(row["label"] and row["confidence"] < 0.999 for row in rows)


class FlakyVideo(VideoFile):
    """A real video whose camera 'drops out' for a while: reads fail from frame 2 for `outage` s."""

    def __init__(self, spec, path, outage: float) -> None:
        super().__init__(spec, path)
        self.outage, self.lost_at = outage, None

    def read(self):
        if self._next == 2 and (self.lost_at is None or time.monotonic() - self.lost_at < self.outage):
            self.lost_at = self.lost_at or time.monotonic()
            raise SourceUnavailable(f"camera {self.spec}: stopped delivering frames")
        return super().read()

    def open(self):
        if self.lost_at is not None and time.monotonic() - self.lost_at < self.outage:
            raise SourceUnavailable(f"camera {self.spec}: cannot be opened")
        super().open()


def test_a_camera_that_drops_out_is_retried_and_resumes(tmp_path, smear_frames, coral_classifier):
    video = write_video(tmp_path / "fields.avi", smear_frames[:5])
    source = FlakyVideo(f"video:{video}", video, outage=1.2)
    outcome, rows, notices = run_session(
        tmp_path, source, coral_classifier, CaptureOptions(reconnect_timeout=10)
    )
    assert outcome.ok and [row["frame_index"] for row in rows] == [0, 1, 2, 3, 4]  # nothing lost or repeated
    assert "retrying" in notices[0] and any("is back" in n for n in notices)


def test_a_camera_that_stays_away_ends_the_session_after_the_timeout(
    tmp_path, smear_frames, coral_classifier
):
    video = write_video(tmp_path / "fields.avi", smear_frames[:4])
    source = FlakyVideo(f"video:{video}", video, outage=60)
    started = time.monotonic()
    outcome, rows, notices = run_session(
        tmp_path, source, coral_classifier, CaptureOptions(reconnect_timeout=1.0)
    )
    assert not outcome.ok and "giving up" in outcome.reason
    assert len(rows) == 2 and time.monotonic() - started < 8


def test_watched_folder_gets_files_while_running_and_survives_being_moved(
    tmp_path, smear_frames, coral_classifier
):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:2], prefix="a")

    def microscope_software():
        time.sleep(0.8)
        save_images(folder, smear_frames[2:4], prefix="b")
        time.sleep(0.5)
        folder.rename(tmp_path / "unmounted")  # e.g. a network share dropping out
        time.sleep(1.5)
        (tmp_path / "unmounted").rename(folder)
        save_images(folder, smear_frames[4:5], prefix="c")

    writer = threading.Thread(target=microscope_software)
    writer.start()
    source = FolderSource(f"folder:{folder}", folder, settle_seconds=0.2)
    options = CaptureOptions(sample_id="slide-7", count=5, duration=30, reconnect_timeout=10)
    outcome, rows, notices = run_session(tmp_path, source, coral_classifier, options)
    writer.join()
    assert outcome.ok and outcome.frames == 5
    names = [row["origin"].rsplit("/", 1)[-1] for row in rows]
    assert sorted(names) == ["a-000.png", "a-001.png", "b-000.png", "b-001.png", "c-000.png"]
    assert all(row["image_sha256"] and row["image_path"] == row["origin"] for row in rows)
    assert any("disappeared" in n for n in notices) and any("is back" in n for n in notices)


def test_stop_request_finishes_the_frame_and_ends_cleanly(tmp_path, smear_frames, coral_classifier):
    folder = tmp_path / "drop"
    save_images(folder, smear_frames[:2])
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    source = FolderSource(f"folder:{folder}", folder, settle_seconds=0.1)
    outcome, rows, _ = run_session(tmp_path, source, coral_classifier, CaptureOptions(), stop=stop)
    assert outcome.ok and outcome.reason == "stopped by signal" and len(rows) == 2


def test_a_full_database_stops_the_session(tmp_path, smear_frames, coral_classifier):
    video = write_video(tmp_path / "fields.avi", smear_frames * 4)
    store = ResultsStore.open(tmp_path / "results.db")
    session_id = store.start_session(
        SessionInfo("t0", "video", None, "coral", "c0" * 32, list(coral_classifier.labels), 0.6, None, "test")
    )
    # 1001 probabilities per row: a few rows fill two spare pages.
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages + 12}")
    source = VideoFile(f"video:{video}", video)
    source.open()
    outcome = CaptureSession(source, coral_classifier, store, session_id, "c0" * 32, CaptureOptions()).run()
    source.close()
    store.close()
    assert not outcome.ok and "disk full" in outcome.reason
    with ResultsStore.open(tmp_path / "results.db", create=False) as again:
        assert 0 < len(list(again.captures())) == outcome.frames < 32
