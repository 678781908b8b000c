"""Saved frames are never overwritten, and their names are unique for ever.

They were named session{id}-{index}: when the database was replaced (moved aside, deleted, a new
card) session ids restarted at 1 and a new patient's frames silently overwrote the earlier
patient's, whose rows then pointed at the wrong images."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from edge_all.capture.frames import save_frame
from edge_all.results.store import ResultsStore
from tests.capture.helpers import write_video
from tests.cli_runner import run_edge_all as edge_all


def test_an_existing_frame_file_is_never_overwritten(tmp_path):
    first = save_frame(np.zeros((8, 8, 3), np.uint8), tmp_path, "frame")
    before = first.path.read_bytes()
    with pytest.raises(FileExistsError, match="not overwritten"):
        save_frame(np.full((8, 8, 3), 255, np.uint8), tmp_path, "frame")
    assert first.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]  # no temporary file left behind


def test_a_replaced_database_never_lets_a_new_patient_overwrite_saved_frames(tmp_path, int8_bundle, smears):
    pytest.importorskip("cv2")
    frames, db = tmp_path / "frames", tmp_path / "results.db"
    runs = {}
    for patient, video_frames in (("patient-A", smears[:3]), ("patient-B", smears[3:6])):
        video = write_video(tmp_path / f"{patient}.avi", video_frames)
        result = edge_all(
            "capture-and-classify", "--model", int8_bundle, "--camera", f"video:{video}", "--db", db,
            "--save-frames", frames, "--sample-id", patient, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        with ResultsStore.open(db, create=False) as store:
            runs[patient] = (list(store.captures()), store.session(1)["uid"])
        db.rename(tmp_path / f"{patient}.db")  # a new card: the next database starts at session 1
    for rows, uid in runs.values():
        assert len(rows) == 3 and all(row["session_id"] == 1 for row in rows)
        for row in rows:  # each row still points at its own image, byte for byte
            assert uid in row["image_path"]
            on_disk = Path(row["image_path"]).read_bytes()
            assert hashlib.sha256(on_disk).hexdigest() == row["image_sha256"]
    assert len(list(frames.iterdir())) == 6
