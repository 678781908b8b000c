"""A video damaged in the middle ended the capture as if the video had ended, and the rest was
never read. Now each frame that cannot be decoded is recorded as an error (the damage, reported)
and reading goes on after it, where the container allows."""

from __future__ import annotations

import pytest

from edge_all.results.store import ResultsStore
from tests.capture.helpers import write_video
from tests.cli_runner import run_edge_all as edge_all

pytest.importorskip("cv2")


def jpeg_starts(data: bytes) -> list[int]:
    """Where each Motion-JPEG frame begins (its JPEG start-of-image marker)."""
    return [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]


def capture(video, db, bundle):
    args = ["--model", bundle, "--camera", f"video:{video}", "--db", db, "--sample-id", "V"]
    return edge_all("capture-and-classify", *args, timeout=120)


def test_a_frame_damaged_in_the_middle_is_recorded_and_the_rest_is_read(tmp_path, int8_bundle, smears):
    video = write_video(tmp_path / "slide.avi", smears)  # 8 real frames
    data = bytearray(video.read_bytes())
    starts = jpeg_starts(bytes(data))
    assert len(starts) == len(smears)
    data[starts[3] : starts[3] + 300] = bytes(300)  # frame 3's JPEG header and first scan lines
    video.write_bytes(bytes(data))

    result = capture(video, tmp_path / "results.db", int8_bundle)
    assert result.returncode == 0, result.stderr
    with ResultsStore.open(tmp_path / "results.db", create=False) as store:
        rows = list(store.captures())
    assert len(rows) == len(smears)
    assert [row["status"] == "error" for row in rows] == [i == 3 for i in range(len(smears))]
    assert rows[3]["reason"] == f"video {video}: frame 3 is damaged and could not be decoded; skipped"
    assert "errors 1" in result.stdout


def test_a_cut_short_video_records_what_it_has_and_reports_the_rest(tmp_path, int8_bundle, smears):
    video = write_video(tmp_path / "slide.avi", smears)
    data = video.read_bytes()
    video.write_bytes(data[: jpeg_starts(data)[5]])  # a copy that stopped at frame 5
    result = capture(video, tmp_path / "results.db", int8_bundle)
    assert result.returncode == 0, result.stderr
    with ResultsStore.open(tmp_path / "results.db", create=False) as store:
        statuses = [row["status"] for row in store.captures()]
    assert len(statuses) > 5 and "error" not in statuses[:5]  # what it has: every frame before the cut
    assert set(statuses[5:]) == {"error"}  # the rest: reported as damaged, not silently missing
