"""Two captures of one folder for one sample at once classified every field twice. The second now
refuses in one line while the first runs; a capture killed with -9 leaves no stale lock."""

from __future__ import annotations

import signal

import pytest

from edge_all.capture.lock import CaptureBusy, capture_lock
from edge_all.results.store import ResultsStore
from tests.cli_runner import run_edge_all as edge_all

from .conftest import save_png


def test_a_second_capture_of_the_same_folder_and_sample_refuses(tmp_path, int8_bundle, smears, running):
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    save_png(folder / "field-1.png", smears[0])
    args = ["capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{folder}", "--settle", "0"]
    args += ["--db", db]
    first = running(*args, "--sample-id", "S1", "--duration", "120")
    first.wait_for_lines(1)  # the first field is recorded: the capture is running

    second = edge_all(*args, "--sample-id", "S1", "--duration", "5", timeout=60)
    assert second.returncode == 1
    (line,) = [
        x for x in second.stderr.strip().splitlines() if not x.startswith("warning: ")
    ]  # the demo-bundle notice
    assert line.startswith(f"error: {db}: another capture (process {first.process.pid}) is already recording")
    assert f"folder:{folder} (sample S1)" in line

    other_sample = edge_all(*args, "--sample-id", "S2", "--duration", "2", timeout=60)
    assert other_sample.returncode == 0, other_sample.stderr  # another slide may run beside it

    first.signal(signal.SIGKILL)  # a crash: the kernel drops the lock with the process
    first.process.wait()
    restarted = edge_all(*args, "--sample-id", "S1", "--duration", "2", timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert "skipping 1 image(s)" in restarted.stderr
    with ResultsStore.open(db, create=False) as store:
        assert [row["sample_id"] for row in store.captures()] == ["S1", "S2"]  # each field once per slide


def test_the_lock_excludes_a_second_holder_in_the_same_process_and_cleans_up(tmp_path):
    db = tmp_path / "results.db"
    with capture_lock(db, "folder:/drop", "S1", "folder:/drop (sample S1)"):
        busy = pytest.raises(CaptureBusy, match="already recording folder:/drop")
        with busy, capture_lock(db, "folder:/drop", "S1", "folder:/drop (sample S1)"):
            pass  # a station's second thread
        with capture_lock(db, "folder:/drop", "S2", "folder:/drop (sample S2)"):
            pass
    assert [p.name for p in tmp_path.iterdir()] == [".results.db.lock"]  # no lock file per sample left
