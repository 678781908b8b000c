"""`edge-all capture-and-classify` and `edge-all results` as real subprocesses: signals, exit codes,
a real bundle trained and converted by the suite, a real full filesystem.

Every capture here runs on the suite's own int8 bundle, so none needs the third-party models. Waits
are for something the capture does (a row committed, a line on stderr); their timeouts only guard
against a hang."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from edge_all.results.store import ResultsStore
from tests.cli_runner import run_edge_all as edge_all
from tests.cli_runner import run_edge_all_watched

from .helpers import blurred, darkened, save_images, write_video

pytest.importorskip("cv2")

REPO = Path(__file__).resolve().parents[2]


HANG_GUARD_S = 120  # only a hung capture takes this long


@pytest.fixture
def bundle_model(int8_bundle) -> list[str]:
    return ["--model", str(int8_bundle)]


@pytest.fixture
def plain_model(int8_bundle) -> list[str]:
    """The same int8 model as a plain .tflite with a labels file (how a model made elsewhere comes)."""
    return ["--model", str(int8_bundle / "model.tflite"), "--labels", str(int8_bundle / "labels.txt")]


def wait_for(condition, what: str, timeout: float = HANG_GUARD_S, poll: float = 0.05):
    """Poll `condition` until it returns something true; fail (naming `what`) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"timed out waiting for {what}")


def without_demo_warning(stderr: str) -> str:
    """stderr less the one warning every command gives for a bundle trained on synthetic images."""
    lines = stderr.splitlines(keepends=True)
    demo = [
        line for line in lines if line.startswith("warning: ") and "trained on synthetic demo images" in line
    ]
    assert len(demo) == 1, stderr
    return "".join(line for line in lines if line not in demo)


def committed_rows(db: Path) -> int:
    """Capture rows committed so far (read while the capture writes: WAL)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as reader:
        try:
            return reader.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
        except sqlite3.OperationalError:  # between the file's creation and its schema
            return 0


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
    # convert's check ran this model on the same test images; the capture sees them through a lossy
    # MJPEG video and the quality gate, so one frame may go the other way, no more.
    recorded = json.loads((int8_bundle / "bundle.json").read_text())["accuracy_check"]["converted"]
    right = sum(row["label"] == frame["label"] for row, frame in zip(rows, truth, strict=True))
    assert right >= recorded["correct"] - 1, (right, recorded)
    confident = [
        (row["label"], f["label"])
        for row, f in zip(rows, truth, strict=True)
        if row["status"] == "classified"
    ]
    assert len(confident) >= 0.8 * len(rows)
    assert sum(label == true for label, true in confident) >= 0.9 * len(confident)

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


def test_missing_camera_at_start_is_one_line_and_exit_1(tmp_path, bundle_model):
    result = edge_all(
        "capture-and-classify", *bundle_model, "--camera", "/dev/video97", "--db", tmp_path / "r.db"
    )
    assert result.returncode == 1
    stderr = without_demo_warning(result.stderr)
    assert stderr.strip().count("\n") == 0 and stderr.startswith("error: camera /dev/video97")
    assert not (tmp_path / "r.db").exists()  # no empty session recorded for a camera that was never there


def test_without_the_camera_extra_a_video_source_says_how_to_install_it(tmp_path, bundle_model):
    video = tmp_path / "fields.avi"
    done, _ = run_edge_all_watched(
        "capture-and-classify", *bundle_model, "--camera", f"video:{video}", "--db", tmp_path / "r.db",
        blocked=("cv2",),
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        without_demo_warning(done.stderr)
        == f"error: camera source video:{video} needs the camera extra: pip install 'edge-all[camera]'\n"
    )
    assert not (tmp_path / "r.db").exists()


def test_bad_arguments_are_usage_errors(tmp_path, bundle_model):
    assert edge_all("capture-and-classify", *bundle_model, "--camera", "webcam").returncode == 2
    result = edge_all("capture-and-classify", *bundle_model, "--camera", "folder:.", "--min-focus", "x")
    assert result.returncode == 2
    missing = edge_all("results", "list", "--db", tmp_path / "none.db")
    assert missing.returncode == 1 and "no results database" in missing.stderr


class BlockedCapture:
    """`capture-and-classify` whose stdout is a full pipe, so it blocks printing frame #0's line.

    Frame #0 is committed before its line is printed; while the line cannot be written the frame is
    still in progress (the loop looks at the stop request only between frames). So once the row is
    in the database, a signal is known to arrive mid-frame, however busy the machine is.
    """

    def __init__(self, tmp_path: Path, smear_frames, model: list[str]) -> None:
        self.folder, self.db = tmp_path / "drop", tmp_path / "results.db"
        save_images(self.folder, smear_frames[:3])  # more than one frame's worth, never all taken
        read_end, write_end = os.pipe()
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
        self.filler = b"." * (fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) - 1) + b"\n"
        os.write(write_end, self.filler)  # the pipe is full before the capture writes anything
        self.stdout = os.fdopen(read_end, "rb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_all", "capture-and-classify", *model,
             "--camera", f"folder:{self.folder}", "--settle", "0", "--db", self.db, "--sample-id", "slide-1"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        os.close(write_end)
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def signal_mid_frame(self, signum: int) -> None:
        """Send `signum` once frame #0 is committed, and wait for the capture to say it will stop."""
        wait_for(lambda: committed_rows(self.db) == 1, "frame #0 to be committed")
        self.process.send_signal(signum)
        name = signal.Signals(signum).name
        wait_for(lambda: any(line.startswith(f"{name}: ") for line in self.stderr), f"the answer to {name}")

    def finish(self) -> tuple[int, str]:
        """Read stdout to its end, so the capture may go on; returns (exit code, stdout after the filler)."""
        out = self.stdout.read()
        self.stdout.close()
        code = self.process.wait(HANG_GUARD_S)
        self._reader.join(HANG_GUARD_S)
        assert out.startswith(self.filler)
        return code, out[len(self.filler) :].decode()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_finishes_the_frame_closes_the_database_and_exits_0(
    tmp_path, smear_frames, bundle_model, signum
):
    capture = BlockedCapture(tmp_path, smear_frames, bundle_model)
    try:
        capture.signal_mid_frame(signum)
        code, stdout = capture.finish()
    finally:
        capture.kill()
    name = signal.Signals(signum).name
    assert code == 0, capture.stderr
    assert f"{name}: finishing the current frame, then stopping" in capture.stderr
    assert capture.stderr[-1] == "stopped: stopped by signal"
    live_lines = [line for line in stdout.splitlines() if line.startswith("#")]
    assert len(live_lines) == 1 and live_lines[0].startswith("#0 ")  # the frame in progress, and no other
    assert "sample slide-1: 1 fields of view" in stdout
    with ResultsStore.open(capture.db, create=False) as store:
        (row,) = store.captures()
        (session,) = store.sessions()
    assert row["frame_index"] == 0 and row["origin"] in live_lines[0]
    assert session["end_reason"] == "stopped by signal" and session["ended_at"]


def test_a_second_ctrl_c_aborts_without_finishing_the_frame(tmp_path, smear_frames, bundle_model):
    capture = BlockedCapture(tmp_path, smear_frames, bundle_model)
    try:
        capture.signal_mid_frame(signal.SIGINT)  # the frame goes on (its line is still not written)...
        capture.process.send_signal(signal.SIGINT)  # ...until the second Ctrl+C, at once
        code, stdout = capture.finish()
    finally:
        capture.kill()
    assert code == 128 + signal.SIGINT, capture.stderr  # the shell's "ended by Ctrl+C"
    assert capture.stderr.count("SIGINT: finishing the current frame, then stopping") == 1
    assert not any(line.startswith("stopped:") for line in capture.stderr)
    assert "fields of view" not in stdout  # stopped where it was: the session is not summed up
    with ResultsStore.open(capture.db, create=False) as store:
        assert len(list(store.captures())) == 1  # what was committed stays, readable
        (session,) = store.sessions()
    assert session["ended_at"] is None


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
    tmp_path, tiny_filesystem, smear_frames, bundle_model
):
    video = write_video(tmp_path / "long.avi", smear_frames * 6)  # 48 frames of ~100 kB PNG: more than fits
    db = tiny_filesystem / "results.db"
    result = edge_all(
        "capture-and-classify", *bundle_model, "--camera", f"video:{video}", "--db", db,
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


def test_json_lines_thresholds_from_flags_and_config_and_session_listing(tmp_path, smear_frames, plain_model):
    video = write_video(tmp_path / "v.avi", smear_frames[:3])
    db = tmp_path / "r.db"
    result = edge_all(
        "capture-and-classify", *plain_model, "--camera", f"video:{video}", "--db", db, "--json",
        "--count", "2", "--min-focus", "1e9", "--sample-id", "S9",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    *frames, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["status"] for f in frames] == ["rejected", "rejected"]
    assert all(f["reason"].startswith("out_of_focus:") and f["quality"]["focus"] > 0 for f in frames)
    assert summary["summary"][0]["rejected"] == 2
    assert summary["summary"][0]["verdict"] == "inconclusive"  # no good field at all: no call either way

    config = tmp_path / "quality.json"
    config.write_text(json.dumps({"min_brightness": 254}))
    again = edge_all("capture-and-classify", *plain_model, "--camera", f"video:{video}", "--db", db,
                     "--quality-config", config, "--json")  # fmt: skip
    assert [json.loads(line).get("reason", "")[:8] for line in again.stdout.splitlines()[:-1]] == [
        "too_dark"
    ] * 3
    config.write_text(json.dumps({"min_sharpness": 1}))
    bad = edge_all(
        "capture-and-classify", *plain_model, "--camera", f"video:{video}", "--quality-config", config
    )
    assert bad.returncode == 2 and "min_sharpness" in bad.stderr

    sessions = json.loads(edge_all("results", "list", "--sessions", "--json", "--db", db).stdout)
    assert [(s["id"], s["sample_id"], s["fields"]) for s in sessions] == [(1, "S9", 2), (2, None, 3)]


def test_a_restarted_folder_capture_does_not_classify_an_image_twice(tmp_path, smear_frames, bundle_model):
    folder, db = tmp_path / "drop", tmp_path / "r.db"
    save_images(folder, smear_frames[:2], prefix="a")
    args = [
        "capture-and-classify",
        *bundle_model,
        "--camera",
        f"folder:{folder}",
        "--settle",
        "0.1",
        "--db",
        db,
    ]
    # --duration only guards against a hang: each run ends at its --count.
    first = edge_all(*args, "--sample-id", "S1", "--count", "2", "--duration", HANG_GUARD_S)
    assert first.returncode == 0, first.stderr
    save_images(folder, smear_frames[2:3], prefix="b")
    # After a power cut: one frame, and it must be the new image, not the oldest one again.
    second = edge_all(*args, "--sample-id", "S1", "--count", "1", "--duration", HANG_GUARD_S)
    assert "skipping 2 image(s)" in second.stderr
    other_slide = edge_all(*args, "--sample-id", "S2", "--count", "3", "--duration", HANG_GUARD_S)
    with ResultsStore.open(db, create=False) as store:
        s1 = [Path(row["origin"]).name for row in store.captures(sample_id="S1")]
        s2 = [Path(row["origin"]).name for row in store.captures(sample_id="S2")]
    assert sorted(s1) == ["a-000.png", "a-001.png", "b-000.png"]
    assert other_slide.returncode == 0 and sorted(s2) == sorted(s1)  # another sample id starts afresh


def test_interval_spaces_the_captures_and_no_quality_gate_classifies_every_frame(
    tmp_path, smear_frames, bundle_model
):
    frames = [smear_frames[0], blurred(smear_frames[1]), darkened(smear_frames[2])]  # the gate would reject 2
    video = write_video(tmp_path / "v.avi", frames)
    done = edge_all(
        "capture-and-classify", *bundle_model, "--camera", f"video:{video}", "--db", tmp_path / "r.db",
        "--json", "--interval", "0.25", "--no-quality-gate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    *records, summary = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["status"] in ("classified", "uncertain", "referred") for r in records), records
    assert all(r["label"] and r["quality"] == {} for r in records)  # nothing measured, nothing rejected
    assert summary["summary"][0]["rejected"] == 0
    # A video is read as fast as it decodes unless --interval spaces the captures: the k-th starts no
    # sooner than k intervals after the session (times recorded to the millisecond). Only lower bounds:
    # a busy machine makes captures later, never earlier.
    with ResultsStore.open(tmp_path / "r.db", create=False) as store:
        (session,) = store.sessions()
    started = datetime.fromisoformat(session["started_at"])
    after = [(datetime.fromisoformat(r["captured_at"]) - started).total_seconds() for r in records]
    assert len(after) == 3 and all(seconds >= 0.25 * k - 0.001 for k, seconds in enumerate(after)), after
