"""Files that are not what they claim: a FIFO, a device, a huge or deeply nested file, the wrong JSON.

Each must give one line naming the file and the problem, at once (never a hang, never a traceback,
never reading without bound), through the real `edge-all` command.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from edge_all.regular_files import SMALL_FILE_LIMIT
from edge_all.runtime.bundle import LABELS_FILE, MANIFEST_FILE
from edge_all.runtime.labels import LabelsError, read_labels
from tests.cli_runner import run_edge_all as edge_all

from .conftest import edge_all_limited, save_png


@pytest.fixture
def bundle(tmp_path, int8_bundle):
    """A private copy of the suite's real int8 bundle, to damage."""
    return shutil.copytree(int8_bundle, tmp_path / "bundle")


def one_error_line(result, *fragments: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_a_fifo_labels_file_is_refused_at_once(bundle):
    (bundle / LABELS_FILE).unlink()
    os.mkfifo(bundle / LABELS_FILE)
    result = edge_all("info", "--model", bundle, timeout=60)  # a read would block for ever
    assert result.returncode == 1
    one_error_line(result, f"{bundle / LABELS_FILE}: labels file is a FIFO (named pipe), not a regular file")


def test_labels_linked_to_dev_zero_are_refused_not_read_until_memory_runs_out(bundle):
    (bundle / LABELS_FILE).unlink()
    (bundle / LABELS_FILE).symlink_to("/dev/zero")
    result = edge_all_limited("info", "--model", bundle, timeout=60)
    assert result.returncode == 1
    one_error_line(result, "labels file is a character device, not a regular file")


def test_plain_model_labels_fifo_and_oversized_labels(tmp_path, int8_bundle):
    fifo = tmp_path / "labels.txt"
    os.mkfifo(fifo)
    model = int8_bundle / "model.tflite"
    done = edge_all("info", "--model", model, "--labels", fifo, timeout=60)
    assert done.returncode == 1
    one_error_line(done, f"{fifo}: labels file is a FIFO")
    huge = tmp_path / "huge.txt"
    with open(huge, "w") as handle:
        handle.write("Benign\n" * (SMALL_FILE_LIMIT // 7 + 1))
    with pytest.raises(LabelsError, match=f"{huge}: labels file is larger than"):
        read_labels(huge)


def test_a_fifo_named_like_an_image_is_one_failed_input_and_the_batch_goes_on(tmp_path, int8_bundle, smears):
    folder = tmp_path / "slides"
    save_png(folder / "a.png", smears[0])
    os.mkfifo(folder / "b.png")
    save_png(folder / "c.png", smears[1])
    result = edge_all("classify", folder, "--model", int8_bundle, "--json", timeout=60)
    assert result.returncode == 3, result.stderr
    assert f"error: {folder / 'b.png'}: image is a FIFO (named pipe), not a regular file" in result.stderr
    files = [json.loads(line)["file"] for line in result.stdout.splitlines()]
    assert sorted(files) == sorted(str(folder / name) for name in ("a.png", "b.png", "c.png"))


def test_a_fifo_bundle_json_is_refused_at_once(bundle):
    (bundle / MANIFEST_FILE).unlink()
    os.mkfifo(bundle / MANIFEST_FILE)
    result = edge_all("info", "--model", bundle, timeout=60)
    assert result.returncode == 1
    one_error_line(result, f"{bundle}: a directory without bundle.json is not a model bundle")
