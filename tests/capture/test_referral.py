"""An image unlike the training images is referred, not classified, everywhere it is recorded."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from edge_all.results.store import ResultsStore
from tests.cli_runner import run_edge_all as edge_all

from .helpers import write_video

pytest.importorskip("cv2")


def noise(seed: int = 0, size: int = 224) -> np.ndarray:
    """Coloured noise: nothing like a smear, and sharp enough to pass a focus check."""
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_capture_records_an_unfamiliar_field_as_referred(tmp_path, int8_bundle, smear_frames):
    video = write_video(tmp_path / "v.avi", [smear_frames[0], noise(), smear_frames[1]])
    db = tmp_path / "r.db"
    result = edge_all(
        "capture-and-classify", "--model", int8_bundle, "--camera", f"video:{video}", "--db", db,
        "--sample-id", "S1", "--no-quality-gate", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    *frames, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["status"] for f in frames][1] == "referred"
    assert (
        frames[1]["unfamiliarity"] > 1.0
        and "unlike the images this model was trained on" in frames[1]["reason"]
    )
    assert all(f["unfamiliarity"] < 1.0 for f in (frames[0], frames[2]))
    assert summary["summary"][0]["referred"] == 1
    with ResultsStore.open(db, create=False) as store:
        rows = list(store.captures(sample_id="S1"))
        assert rows[1]["status"] == "referred" and rows[1]["unfamiliarity"] > 1.0
        assert store.sample("S1")["referred"] == 1
    exported = edge_all("results", "export", "--db", db, "--csv", tmp_path / "r.csv")
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "r.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert table[1]["status"] == "referred" and float(table[1]["unfamiliarity"]) > 1.0
    assert "synthetic demo images" in result.stderr  # the demo bundle says what it is


def test_classify_reports_an_unfamiliar_image_as_referred(tmp_path, int8_bundle, smear_frames):
    Image.fromarray(smear_frames[0]).save(tmp_path / "smear.png")
    Image.fromarray(noise(1)).save(tmp_path / "noise.png")
    result = edge_all(
        "classify", "-m", int8_bundle, "--no-quality-gate", "--json", "--csv", tmp_path / "out.csv",
        "--heatmaps", tmp_path / "maps", tmp_path / "smear.png", tmp_path / "noise.png",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = {r["file"].rsplit("/", 1)[-1]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["noise.png"]["status"] == records["noise.png"]["label"] == "referred"
    assert records["noise.png"]["best_label"] in ("Benign", "Early", "Pre", "Pro")
    assert records["smear.png"]["status"] == "classified" and records["smear.png"]["unfamiliarity"] < 1
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = {row["file"].rsplit("/", 1)[-1]: row for row in csv.DictReader(handle)}
    assert rows["noise.png"]["status"] == "referred" and float(rows["noise.png"]["unfamiliarity"]) > 1
    maps = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert maps == ["noise-heatmap.png", "smear-heatmap.png"]
    assert Image.open(tmp_path / "maps" / "smear-heatmap.png").size == (64, 64)  # the model's input
    assert "warning:" in result.stderr and "synthetic demo images" in result.stderr
