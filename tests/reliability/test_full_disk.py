"""A disk that is 100% full before the main work starts: every small file edge-all writes first (the
capture lock, the station's password and database, a CSV, a heat map, each file of a bundle that
convert writes) ends in the one line and exit code 1 that a full disk gets later in a capture,
`error: PATH: disk full, ...` (the results database says SQLite's own "database or disk is full"),
never an OSError traceback, and leaves no temporary file behind.

`capture-and-classify` used to die with `OSError: [Errno 28] No space left on device` writing its lock
file. Every test here writes to a real tmpfs filled to 100% (tests/reliability/full_disk.py).
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from edge_all.results.errors import StorageFull
from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo
from tests.cli_runner import run_edge_all

from .conftest import save_png
from .full_disk import FILLER, files_left, full_filesystem

HANG_GUARD_S = 120


@pytest.fixture
def full(tmp_path) -> Path:
    with full_filesystem(tmp_path / "full") as mount:
        yield mount


def one_line_disk_full(done, path: Path) -> None:
    """Exit 1, and stderr's last line is the one-line full-disk error naming a file on that disk."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {path}") and re.search("disk (is )?full", last), done.stderr


def test_a_capture_started_on_a_full_disk_is_one_line_and_exit_1(tmp_path, full, smears):
    """The reported case: the lock file's "process PID" line could not be written."""
    folder = tmp_path / "drop"
    save_png(folder / "field.png", smears[0])
    done = run_edge_all(
        "capture-and-classify", "--camera", f"folder:{folder}", "--settle", "0", "--count", "1",
        "--db", full / "results.db", "--sample-id", "S1", timeout=HANG_GUARD_S,
    )  # fmt: skip
    one_line_disk_full(done, full)
    assert "the capture lock" in done.stderr or "database" in done.stderr


def test_a_capture_whose_lock_fits_but_whose_database_does_not(tmp_path, smears):
    """A lock written, then no room for the database: StorageFull's line, as at a later frame."""
    folder = tmp_path / "drop"
    save_png(folder / "field.png", smears[0])
    with full_filesystem(tmp_path / "full") as mount:
        (mount / FILLER).unlink()  # room for a lock file's page, then full again
        with open(mount / "almost", "wb") as handle:
            handle.write(bytes((1 << 20) - (8 << 10)))
        done = run_edge_all(
            "capture-and-classify", "--camera", f"folder:{folder}", "--settle", "0", "--count", "1",
            "--db", mount / "results.db", timeout=HANG_GUARD_S,
        )  # fmt: skip
    assert "Traceback" not in done.stderr and done.returncode == 1, done.stderr
    assert "disk" in done.stderr.strip().splitlines()[-1] and "full" in done.stderr, done.stderr


def test_setting_the_station_password_on_a_full_disk(full):
    done = run_edge_all(
        "serve", "--set-password", "--password-file", full / "station-password.json",
        input="a long enough password\n", timeout=HANG_GUARD_S,
    )  # fmt: skip
    one_line_disk_full(done, full / "station-password.json")
    assert files_left(full) == []  # no temporary file with the hash in it


def test_a_station_started_on_a_full_disk(full):
    done = run_edge_all("serve", "--db", full / "results.db", "--port", "1", timeout=HANG_GUARD_S)
    one_line_disk_full(done, full / "results.db")


def recorded_database(path: Path) -> Path:
    with ResultsStore.open(path) as store:
        session = store.start_session(
            SessionInfo("2024-01-01T00:00:00+00:00", "folder:x", "S1", "m", "0" * 64, ["a"], 0.5, None, "0")
        )
        store.add(CaptureRecord(session, "2024-01-01T00:00:01+00:00", "S1", "folder:x", 0, "x/1.png", "error",
                                "0" * 64, reason="=cmd"))  # fmt: skip
    return path


def test_a_results_export_onto_a_full_disk_keeps_the_older_file_whole(tmp_path):
    db = recorded_database(tmp_path / "results.db")
    with full_filesystem(tmp_path / "full", before={"export.csv": b"the older export\n"}) as mount:
        done = run_edge_all("results", "export", "--db", db, "--csv", mount / "export.csv")
        one_line_disk_full(done, mount / "export.csv")
        assert (mount / "export.csv").read_bytes() == b"the older export\n"
        assert files_left(mount) == ["export.csv"]


def test_classify_writing_its_csv_or_heat_maps_onto_a_full_disk(tmp_path, full, smears):
    image = save_png(tmp_path / "field.png", smears[0])
    done = run_edge_all("classify", image, "--csv", full / "results.csv", timeout=HANG_GUARD_S)
    one_line_disk_full(done, full / "results.csv")
    done = run_edge_all("classify", image, "--heatmaps", full / "maps", timeout=HANG_GUARD_S)
    one_line_disk_full(done, full / "maps")
    assert files_left(full) in ([], ["maps"])  # at most the empty folder


def test_each_file_of_a_bundle_onto_a_full_disk(full):
    """What convert writes into its staging dir: the model, labels, manifest, detector, heat-map
    weights, the accuracy report. Each is StorageFull naming its file, and nothing half-written stays."""
    from convert import publish
    from edge_all.runtime.bundle import read_manifest, write_manifest
    from edge_all.runtime.heatmaps import HeatmapWeights
    from edge_all.runtime.labels import write_labels
    from edge_all.runtime.models import reference_bundle
    from edge_all.runtime.referral import ReferralDetector

    manifest = read_manifest(reference_bundle())
    detector = ReferralDetector(np.zeros(4), np.eye(4), np.zeros((2, 4)), 1.0)
    writers = {
        "labels.txt": lambda path: write_labels(path, ["Benign", "Early"]),
        "bundle.json": lambda path: write_manifest(path.parent, manifest),
        "referral.npz": detector.save,
        "heatmap.npz": HeatmapWeights(np.ones((4, 2)), np.zeros(2)).save,
        "accuracy_check.json": lambda path: publish.write_json(path, {"passed": True}),
    }
    for name, write in writers.items():
        with pytest.raises(StorageFull) as caught:
            write(full / name)
        message = str(caught.value)
        assert message.startswith(f"{full / name}: disk full") and "\n" not in message, message
    with (
        pytest.raises(StorageFull, match="disk full, cannot write the model"),
        publish.Staging(full / "bundle") as staging,
    ):
        staging.write_model(b"\0" * 4096, ["a"])
    assert files_left(full) == []  # the staging dir went with its failure


@pytest.mark.slow
def test_convert_onto_a_full_disk(tmp_path, trained_run):
    with full_filesystem(tmp_path / "full") as mount:
        done = run_edge_all("convert", trained_run, "--out", mount / "bundle", timeout=600)
        one_line_disk_full(done, mount)  # the staging dir's model.tflite, beside the target
        assert files_left(mount) == []


def test_a_password_file_is_private_from_its_first_byte(tmp_path):
    from edge_all.safe_write import write_file

    path = tmp_path / "secret.json"
    write_file(path, "{}", "the secret", private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {}
