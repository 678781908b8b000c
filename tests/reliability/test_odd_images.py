"""Very wide and very tall images (a few hundred bytes as PNG): the quality gate scaled their short
side to 224 with no cap on the long side, asked for gigabytes and died before the frame was
recorded, so a restarted service died on the same file for ever. Now the work is capped, such a
frame is recorded as rejected (odd_shape) and the next image is classified."""

from __future__ import annotations

import subprocess

import numpy as np
from PIL import Image

from edge_all.results.store import ResultsStore
from edge_all.triage.quality import assess
from edge_all.triage.thresholds import QualityThresholds

from .conftest import edge_all_limited, save_png

MEMORY_LIMIT = 1536 << 20  # what a Raspberry Pi 4 with 2 GB can spare; the old gate asked for ~15 GB


def limited(*args: object) -> subprocess.CompletedProcess:
    return edge_all_limited(*args, address_space=MEMORY_LIMIT, timeout=180)


def test_tiny_and_square_enough_frames_are_judged_as_before():
    assert assess(np.full((1, 1, 3), 200, np.uint8), QualityThresholds()).reason.startswith("empty_field")
    assert assess(np.full((100, 1000, 3), 200, np.uint8), QualityThresholds()).reason.startswith(
        "empty_field"
    )


def test_a_watched_folder_with_strips_records_them_and_classifies_the_next_image(
    tmp_path, int8_bundle, smears
):
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    folder.mkdir()
    Image.new("RGB", (1, 100_000), (200, 150, 200)).save(folder / "a-tall.png")
    Image.new("RGB", (3000, 2), (200, 150, 200)).save(folder / "b-wide.png")
    save_png(folder / "c-field.png", smears[0])
    args = ["capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{folder}", "--settle", "0"]
    args += ["--db", db, "--sample-id", "S1"]
    first = limited(*args, "--count", "3", "--duration", "120")
    assert first.returncode == 0, first.stderr
    with ResultsStore.open(db, create=False) as store:
        rows = {row["origin"].rsplit("/", 1)[1]: row for row in store.captures()}
    assert rows["a-tall.png"]["status"] == "rejected" and rows["a-tall.png"]["reason"].startswith("odd_shape")
    assert rows["b-wide.png"]["status"] == "rejected" and rows["b-wide.png"]["reason"].startswith("odd_shape")
    assert rows["c-field.png"]["status"] in ("classified", "uncertain")
    again = limited(*args, "--duration", "2")  # a restarted service does not stop on them again
    assert again.returncode == 0 and "skipping 3 image(s)" in again.stderr


def test_classify_takes_strips_in_bounded_memory(tmp_path, int8_bundle):
    Image.new("RGB", (1, 100_000), (200, 150, 200)).save(tmp_path / "tall.png")
    Image.new("RGB", (3000, 2), (200, 150, 200)).save(tmp_path / "wide.png")
    result = limited("classify", tmp_path, "--model", int8_bundle)
    assert result.returncode == 0, result.stderr
    assert "Summary: 2 judged (0 classified), 0 unreadable" in result.stdout  # read, then turned away
    assert "rejected        2" in result.stdout and "(failed the quality gate)" in result.stdout
