"""A capture given its camera's scale (--um-per-px) stores it with the session, and each field the scale
it was read at (at the pixels the loop reads, after the folder source's shrink) with source "site"; the
sharp high-magnification field passes the gate at that scale, its blurred copy does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from edge_all.results.store import ResultsStore
from tests.cells.smears import blurred, draw_field
from tests.cli_runner import run_edge_all as edge_all

from .helpers import write_video


def test_a_capture_records_its_cameras_scale_and_judges_quality_at_the_reference_scale(tmp_path, int8_bundle):
    folder, db = tmp_path / "drop", tmp_path / "r.db"
    folder.mkdir()
    sharp = draw_field(0.1, (900, 600), seed=2)
    Image.fromarray(sharp).save(folder / "a-sharp.png")
    Image.fromarray(blurred(sharp, 11.0)).save(folder / "b-blurred.png")  # 2 px at 0.55 um/px
    result = edge_all(
        "capture-and-classify", "--model", str(int8_bundle), "--camera", f"folder:{folder}", "--settle", "0",
        "--db", db, "--count", "2", "--duration", "120", "--um-per-px", "0.1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with ResultsStore.open(db, create=False) as store:
        (session,) = store.sessions()
        rows = {Path(row["origin"]).name: row for row in store.captures()}
    assert session["um_per_px"] == 0.1
    sharp_row, blurred_row = rows["a-sharp.png"], rows["b-blurred.png"]
    assert sharp_row["scale_source"] == blurred_row["scale_source"] == "site"
    # The folder source shrank the 900-px file to cover the model's input: the scale follows the pixels.
    assert sharp_row["um_per_px"] > 0.1
    assert sharp_row["status"] != "rejected", sharp_row["reason"]
    assert blurred_row["status"] == "rejected" and blurred_row["reason"].startswith("out_of_focus")
    assert sharp_row["glass"] == pytest.approx(238, abs=8)


def test_a_bad_scale_is_a_usage_error(tmp_path, int8_bundle):
    result = edge_all(
        "capture-and-classify", "--model", str(int8_bundle), "--camera", f"folder:{tmp_path}",
        "--um-per-px", "0",
    )  # fmt: skip
    assert result.returncode == 2 and "--um-per-px" in result.stderr


def test_a_cameras_scale_is_estimated_once_and_reused_for_the_slide(tmp_path, int8_bundle):
    frames = [draw_field(0.25, (480, 360), seed=seed) for seed in (1, 2, 3)]
    video = write_video(tmp_path / "v.avi", frames)
    db = tmp_path / "r.db"
    result = edge_all(
        "capture-and-classify", "--model", str(int8_bundle), "--camera", f"video:{video}", "--db", db,
        "--count", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with ResultsStore.open(db, create=False) as store:
        rows = list(store.captures())
    assert [row["scale_source"] for row in rows] == ["estimated"] * 3
    # In the loop's pixels (the 480-px frames shrunk to cover the model's 224): 0.25 x 480 / 299.
    assert rows[0]["um_per_px"] == pytest.approx(0.25 * 480 / 299, rel=0.10)
    assert len({row["um_per_px"] for row in rows}) == 1  # the first frame's estimate, reused
