"""A video cut short read its frames and ended as if complete. Now the session records how many
frames the container promised and how many were decoded, marks itself ended early, and the CLI
prints both (a real MJPG AVI from OpenCV's VideoWriter, its bytes cut; the reference bundle)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.capture.helpers import write_video
from tests.cli_runner import run_edge_all as edge_all

pytest.importorskip("cv2")


def test_a_video_cut_short_is_recorded_and_printed_as_ended_early(tmp_path):
    rng = np.random.default_rng(0)
    video = write_video(
        tmp_path / "v.avi", [rng.integers(100, 250, (240, 320, 3), np.uint8) for _ in range(12)]
    )
    data = video.read_bytes()
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
    video.write_bytes(data[: starts[9]])  # frames 9-11 lost
    db = tmp_path / "r.db"
    done = edge_all(
        "capture-and-classify", "--camera", f"video:{video}", "--db", db, "--sample-id", "V", timeout=200
    )
    assert done.returncode == 0, done.stderr
    assert "video: 9 of 12 frames read: ended early" in done.stdout
    row = (
        sqlite3.connect(db)
        .execute("SELECT frames_expected, frames_read, ended_early FROM sessions")
        .fetchone()
    )
    assert row == (12, 9, 1)
