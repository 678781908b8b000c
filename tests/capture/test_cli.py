"""`edge-all capture-and-classify` and `edge-all results` as real subprocesses: signals, exit codes,
a real bundle trained and converted by the suite, a real full filesystem."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_all.capture.store import ResultsStore
from tests.cli_runner import run_edge_all as edge_all
from tests.cli_runner import run_edge_all_watched

from .helpers import save_images, write_video

pytest.importorskip("cv2")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def coral_model(coral_models) -> list[str]:
    return [
        "--model",
        str(coral_models / "mobilenet_v2_1.0_224_quant.tflite"),
        "--labels",
        str(coral_models / "imagenet_labels.txt"),
    ]


def test_demo_capture_of_held_out_images_with_a_real_bundle(tmp_path, int8_bundle, trained_run):
    """The README demo: a video of the run's test split, captured with the int8 bundle."""
    video = tmp_path / "test-split.avi"
    made = subprocess.run(
        [sys.executable, "-m", "training.demo_video", "--split", trained_run / "split.json", video],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    with open(video.with_suffix(".frames.csv"), newline="") as handle:
        truth = list(csv.DictReader(handle))
    db = tmp_path / "results.db"
    result = edge_all(
        "capture-and-classify", "--model", int8_bundle, "--camera", f"video:{video}",
        "--db", db, "--sample-id", "demo-slide", "--save-frames", tmp_path / "frames",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The test split holds all four classes, so the slide is referred (sensitivity first).
    assert (
        "sample demo-slide:" in result.stdout and "screening call: refer: ALL-like cells in" in result.stdout
    )
    with ResultsStore.open(db, create=False) as store:
        rows = list(store.captures())
    assert len(rows) == len(truth) > 5
    for row, frame in zip(rows, truth, strict=True):
        # Every synthetic demo field passes the gate, except the deliberately grayscale quirk file.
        if "900" not in Path(frame["file"]).name:
            assert row["status"] in ("classified", "uncertain"), (frame, row["reason"])
        assert row["bundle_sha256"] == json.loads((int8_bundle / "bundle.json").read_text())["model_sha256"]
        assert row["image_sha256"] and Path(row["image_path"]).is_file()
    confident = [
        (row["label"], f["label"])
        for row, f in zip(rows, truth, strict=True)
        if row["status"] == "classified"
    ]
    assert sum(label == true for label, true in confident) >= 0.6 * len(confident)

    listed = edge_all("results", "list", "--db", db, "--json")
    assert listed.returncode == 0, listed.stderr
    (sample,) = json.loads(listed.stdout)
    assert sample["sample_id"] == "demo-slide" and sample["fields"] == len(rows)
    shown = edge_all("results", "show", "demo-slide", "--db", db, "--json")
    assert len(json.loads(shown.stdout)) == len(rows)
    one = edge_all("results", "show", str(rows[0]["id"]), "--db", db)
    assert one.returncode == 0 and rows[0]["captured_at"][:19] in one.stdout
    exported = edge_all(
        "results", "export", "--csv", tmp_path / "all.csv", "--db", db, "--sample-id", "demo-slide"
    )
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "all.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(rows) and set(json.loads(table[0]["probabilities"])) == {
        "Benign",
        "Early",
        "Pre",
        "Pro",
    }
    assert {(row["sample_verdict"], row["sample_call"]) for row in table} == {
        (sample["verdict"], sample["call"])
    }


def test_missing_camera_at_start_is_one_line_and_exit_1(tmp_path, coral_model):
    result = edge_all(
        "capture-and-classify", *coral_model, "--camera", "/dev/video97", "--db", tmp_path / "r.db"
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: camera /dev/video97")
    assert not (tmp_path / "r.db").exists()  # no empty session recorded for a camera that was never there


def test_without_the_camera_extra_a_video_source_says_how_to_install_it(tmp_path, coral_model):
    video = tmp_path / "fields.avi"
    done, _ = run_edge_all_watched(
        "capture-and-classify", *coral_model, "--camera", f"video:{video}", "--db", tmp_path / "r.db",
        blocked=("cv2",),
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        done.stderr
        == f"error: camera source video:{video} needs the camera extra: pip install 'edge-all[camera]'\n"
    )
    assert not (tmp_path / "r.db").exists()


def test_bad_arguments_are_usage_errors(tmp_path, coral_model):
    assert edge_all("capture-and-classify", *coral_model, "--camera", "webcam").returncode == 2
    result = edge_all("capture-and-classify", *coral_model, "--camera", "folder:.", "--min-focus", "x")
    assert result.returncode == 2
    missing = edge_all("results", "list", "--db", tmp_path / "none.db")
    assert missing.returncode == 1 and "no results database" in missing.stderr


def test_sigterm_finishes_the_frame_closes_the_database_and_exits_0(tmp_path, smear_frames, coral_model):
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    folder.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_all", "capture-and-classify", *coral_model,
         "--camera", f"folder:{folder}", "--settle", "0.2", "--db", str(db), "--sample-id", "slide-1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    stop_adding = threading.Event()

    def microscope_software():
        for i in range(40):
            if stop_adding.wait(0.3):
                return
            save_images(folder, [smear_frames[i % len(smear_frames)]], prefix=f"f{i:02d}")

    writer = threading.Thread(target=microscope_software)
    writer.start()
    try:
        deadline = time.monotonic() + 60
        count = 0
        while count < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            if db.exists():
                with sqlite3.connect(db) as reader:  # read while the capture is writing (WAL)
                    try:
                        count = reader.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
                    except sqlite3.OperationalError:  # caught between file creation and schema
                        continue
        assert count >= 3, "capture did not record frames in time"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        stop_adding.set()
        writer.join()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "SIGTERM" in stderr and "stopped by signal" in stderr
    live_lines = [line for line in stdout.splitlines() if line.startswith("#")]
    with ResultsStore.open(db, create=False) as store:
        rows = list(store.captures())
        (session,) = store.sessions()
    assert len(rows) == len(live_lines) >= count  # every frame announced was committed
    assert session["end_reason"] == "stopped by signal" and session["ended_at"]
    assert f"sample slide-1: {len(rows)} fields of view" in stdout


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A real 1.5 MB tmpfs (needs root, as in CI containers); skipped where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_cleanly_and_the_database_stays_readable(
    tmp_path, tiny_filesystem, smear_frames, coral_model
):
    video = write_video(tmp_path / "long.avi", smear_frames * 6)  # 48 frames of ~100 kB PNG: more than fits
    db = tiny_filesystem / "results.db"
    result = edge_all(
        "capture-and-classify", *coral_model, "--camera", f"video:{video}", "--db", db,
        "--save-frames", tiny_filesystem / "frames",
    )  # fmt: skip
    assert result.returncode == 1
    assert "disk full" in result.stderr
    with ResultsStore.open(db, create=False) as store:
        rows = list(store.captures())
    assert 0 < len(rows) < 48
    saved = sorted((tiny_filesystem / "frames").iterdir())
    assert all(not path.name.startswith(".") for path in saved)  # no half-written temp file left behind
    assert {row["image_path"] for row in rows} <= {str(path) for path in saved}


def test_json_lines_thresholds_from_flags_and_config_and_session_listing(tmp_path, smear_frames, coral_model):
    video = write_video(tmp_path / "v.avi", smear_frames[:3])
    db = tmp_path / "r.db"
    result = edge_all(
        "capture-and-classify", *coral_model, "--camera", f"video:{video}", "--db", db, "--json",
        "--count", "2", "--min-focus", "1e9", "--sample-id", "S9",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    *frames, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["status"] for f in frames] == ["rejected", "rejected"]
    assert all(f["reason"].startswith("out_of_focus:") and f["quality"]["focus"] > 0 for f in frames)
    assert summary["summary"][0]["rejected"] == 2
    assert summary["summary"][0]["verdict"] == "not a screening model"  # ImageNet labels: no Benign class

    config = tmp_path / "quality.json"
    config.write_text(json.dumps({"min_brightness": 254}))
    again = edge_all("capture-and-classify", *coral_model, "--camera", f"video:{video}", "--db", db,
                     "--quality-config", config, "--json")  # fmt: skip
    assert [json.loads(line).get("reason", "")[:8] for line in again.stdout.splitlines()[:-1]] == [
        "too_dark"
    ] * 3
    config.write_text(json.dumps({"min_sharpness": 1}))
    bad = edge_all(
        "capture-and-classify", *coral_model, "--camera", f"video:{video}", "--quality-config", config
    )
    assert bad.returncode == 2 and "min_sharpness" in bad.stderr

    sessions = json.loads(edge_all("results", "list", "--sessions", "--json", "--db", db).stdout)
    assert [(s["id"], s["sample_id"], s["fields"]) for s in sessions] == [(1, "S9", 2), (2, None, 3)]


def test_a_restarted_folder_capture_does_not_classify_an_image_twice(tmp_path, smear_frames, coral_model):
    folder, db = tmp_path / "drop", tmp_path / "r.db"
    save_images(folder, smear_frames[:2], prefix="a")
    args = [
        "capture-and-classify",
        *coral_model,
        "--camera",
        f"folder:{folder}",
        "--settle",
        "0.1",
        "--db",
        db,
    ]
    first = edge_all(*args, "--sample-id", "S1", "--count", "2", "--duration", "20")
    assert first.returncode == 0, first.stderr
    save_images(folder, smear_frames[2:3], prefix="b")
    second = edge_all(*args, "--sample-id", "S1", "--duration", "3")  # e.g. after a power cut
    assert "skipping 2 image(s)" in second.stderr
    other_slide = edge_all(*args, "--sample-id", "S2", "--duration", "3")
    with ResultsStore.open(db, create=False) as store:
        s1 = [Path(row["origin"]).name for row in store.captures(sample_id="S1")]
        s2 = [Path(row["origin"]).name for row in store.captures(sample_id="S2")]
    assert sorted(s1) == ["a-000.png", "a-001.png", "b-000.png"]
    assert other_slide.returncode == 0 and sorted(s2) == sorted(s1)  # another sample id starts afresh
