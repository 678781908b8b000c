"""`edge-all classify` and `edge-all info` as a user runs them: real subprocesses, real exit codes."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from edge_all.exit_codes import ExitCode
from edge_all.runtime.bundle import MODEL_FILE
from tests.cli_runner import run_edge_all as edge_all

from .conftest import COLOURS, REPO_ROOT, colour_image, write_bad_inputs


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    """A folder of two red, one green and one blue picture, one in a subfolder."""
    root = tmp_path_factory.mktemp("slides")
    (root / "day2").mkdir()
    for name, colour in [("r1.png", 0), ("r2.jpg", 0), ("g1.png", 1), ("day2/b1.png", 2)]:
        Image.fromarray(colour_image(colour, 60, 80)).save(root / name)
    return root


def test_table_and_per_class_summary(tiny_bundle, slides):
    # Colour pictures are not smears: the quality gate would rightly refuse them (tested below).
    result = edge_all("classify", "--model", tiny_bundle, "--no-quality-gate", slides)
    assert result.returncode == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FILE", "RESULT", "CONFIDENCE", "ALTERNATIVES", "/", "REASON"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:5]}
    assert rows == {
        str(slides / "day2" / "b1.png"): "blue",
        str(slides / "g1.png"): "green",
        str(slides / "r1.png"): "red",
        str(slides / "r2.jpg"): "red",
    }
    assert "Summary: 4 judged (4 classified), 0 unreadable" in result.stdout
    counts = {line.split()[0]: int(line.split()[1]) for line in lines if line.startswith("  ")}
    assert counts == {"red": 2, "green": 1, "blue": 1, "uncertain": 0, "referred": 0, "rejected": 0}
    assert result.stderr.strip() == ""  # no interpreter chatter


def test_json_lines_with_top_k_and_glob(tiny_models, slides):
    result = edge_all(
        "classify", "-m", tiny_models.int8_io, "--labels", tiny_models.labels, "--json", "--top-k", "2",
        slides / "*.png",
    )  # fmt: skip
    assert result.returncode == ExitCode.OK, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["file"], r["label"]) for r in records] == [
        (str(slides / "g1.png"), "green"),
        (str(slides / "r1.png"), "red"),
    ]
    for record in records:
        assert len(record["top_k"]) == 2 and record["top_k"][0]["label"] == record["label"]
        assert record["confidence"] == record["top_k"][0]["probability"] > 0.5
        assert record["status"] == "classified" and record["inference_ms"] >= 0
        assert record["unfamiliarity"] is None  # a plain .tflite has no referral detector
    assert "Summary: 2 judged (2 classified)" in result.stderr  # stdout stays pure JSON lines


def test_threshold_marks_uncertain_instead_of_forcing_a_class(tiny_bundle, slides, tmp_path):
    # A grey picture has equal channel means: the colour model cannot tell, and must say so.
    Image.new("RGB", (40, 40), (128, 128, 128)).save(tmp_path / "grey.png")
    result = edge_all(
        "classify", "-m", tiny_bundle, "--no-quality-gate", "--threshold", "0.6", "--json",
        tmp_path / "grey.png", slides,
    )  # fmt: skip
    assert result.returncode == ExitCode.OK, result.stderr
    records = {json.loads(line)["file"]: json.loads(line) for line in result.stdout.splitlines()}
    grey = records[str(tmp_path / "grey.png")]
    assert grey["label"] == "uncertain" and grey["status"] == "uncertain"
    assert grey["reason"].startswith("confidence 0.") and grey["reason"].endswith("below 0.6")
    assert grey["best_label"] in COLOURS and grey["confidence"] < 0.6
    assert records[str(slides / "g1.png")]["label"] == "green"
    assert "uncertain       1" in result.stderr


def test_bad_inputs_one_line_each_and_the_rest_goes_on(tiny_bundle, slides, tmp_path):
    bad = tmp_path / "bad"
    expected = write_bad_inputs(bad)
    csv_path = tmp_path / "out.csv"
    result = edge_all(
        "classify", "-m", tiny_bundle, "--no-quality-gate", "--csv", csv_path, bad, slides / "g1.png",
        bad / "gone.png",
    )  # fmt: skip
    assert result.returncode == ExitCode.SOME_INPUTS_FAILED
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(expected) + 1, result.stderr
    for name, fragment in expected.items():
        (line,) = [line for line in errors if line.startswith(f"error: {bad / name}: ")]
        assert fragment in line
    assert f"error: {bad / 'gone.png'}: no such file or directory" in errors
    assert f"{slides / 'g1.png'}" in result.stdout and "green" in result.stdout
    assert f"Summary: 1 judged (1 classified), {len(expected) + 1} unreadable" in result.stdout

    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(expected) + 2
    by_file = {row["file"]: row for row in rows}
    assert by_file[str(slides / "g1.png")]["label"] == "green"
    assert by_file[str(slides / "g1.png")]["top_k"].startswith("green:")
    assert by_file[str(bad / "empty.jpg")]["status"] == "error"
    assert "empty file" in by_file[str(bad / "empty.jpg")]["reason"]


def test_model_problems_exit_1_with_one_line(tiny_bundle, tiny_models, slides, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_bundle, tampered)
    data = bytearray((tampered / MODEL_FILE).read_bytes())
    data[-100] ^= 1
    (tampered / MODEL_FILE).write_bytes(bytes(data))
    four = tmp_path / "four.txt"
    four.write_text("a\nb\nc\nd\n")
    cases = {
        "does not match bundle.json": ["-m", tampered],
        "the model has 3 outputs but there are 4 labels": ["-m", tiny_models.uint8_io, "--labels", four],
        "Edge TPU delegate libedgetpu.so.1 could not be loaded": ["-m", tiny_bundle, "--edgetpu"],
        "no such model file": ["-m", tmp_path / "nothing.tflite"],
    }
    for fragment, args in cases.items():
        result = edge_all("classify", *args, slides)
        assert result.returncode == ExitCode.ERROR, (fragment, result.stderr)
        assert result.stderr.startswith("error: ") and fragment in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""


def test_the_quality_gate_guards_classify_for_bundles(tiny_bundle, tmp_path):
    """The same poor picture is refused by classify as by capture-and-classify, unless asked not to."""
    Image.fromarray(colour_image(0, 60, 80)).save(tmp_path / "red.png")  # no stained cells at all
    gated = edge_all("classify", "-m", tiny_bundle, "--json", tmp_path / "red.png")
    assert gated.returncode == ExitCode.OK, gated.stderr
    record = json.loads(gated.stdout)
    assert record["status"] == record["label"] == "rejected" and "best_label" not in record
    assert record["reason"].split(":")[0] in ("too_dark", "clipped", "no_stained_cells")
    # No red cells, no scale given: measured the old way (no um_per_px), the scale recorded as unknown.
    assert set(record["quality"]) == {"brightness", "contrast", "clipped", "stained", "focus", "glass"}
    assert record["scale"] == {"um_per_px": None, "source": "bundle-free"}
    given = edge_all("classify", "-m", tiny_bundle, "--json", "--um-per-px", "0.25", tmp_path / "red.png")
    record = json.loads(given.stdout)
    assert record["scale"] == {"um_per_px": 0.25, "source": "given"}
    assert record["quality"]["um_per_px"] == pytest.approx(0.55, rel=0.05)  # measured at the reference scale
    ungated = edge_all("classify", "-m", tiny_bundle, "--no-quality-gate", "--json", tmp_path / "red.png")
    assert json.loads(ungated.stdout)["label"] == "red"


def test_coral_background_label(coral_models):
    """A real ImageNet model whose labels file starts with "background": indices stay aligned."""
    model = coral_models / "mobilenet_v2_1.0_224_quant.tflite"
    labels = coral_models / "imagenet_labels.txt"
    result = edge_all("classify", "-m", model, "--labels", labels, "--json", coral_models / "sunflower.png")
    assert result.returncode == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["label"] == "daisy"  # index 986 with background at 0
    assert json.loads(result.stdout)["index"] == 986


def test_an_empty_folder_is_an_error(tiny_bundle, tmp_path):
    (tmp_path / "empty").mkdir()
    result = edge_all("classify", "-m", tiny_bundle, tmp_path / "empty")
    assert result.returncode == ExitCode.ERROR and "no images found" in result.stderr


def test_usage_errors_and_help_document_exit_codes(tiny_bundle):
    assert edge_all("classify", "-m", tiny_bundle, "--threshold", "2", "x.png").returncode == ExitCode.USAGE
    help_text = edge_all("classify", "--help").stdout
    assert "3 finished but some inputs failed" in " ".join(help_text.split())
    assert "--top-k" in help_text and "--threshold" in help_text and "--edgetpu" in help_text


def test_info_reports_backend_threads_and_model(tiny_bundle):
    result = edge_all("info", "--threads", "1")
    assert result.returncode == ExitCode.OK, result.stderr
    assert "interpreter: ai_edge_litert" in result.stdout
    assert "delegate:    none (CPU)" in result.stdout and "threads:     1 of" in result.stdout
    assert "Edge TPU runtime: not installed" in result.stdout

    result = edge_all("info", "--model", tiny_bundle, "--json")
    assert result.returncode == ExitCode.OK, result.stderr
    facts = json.loads(result.stdout)
    assert facts["backend"]["name"] == "ai_edge_litert" and facts["backend"]["version"]
    assert facts["model"]["labels"] == COLOURS
    assert facts["model"]["input"]["dtype"] == "uint8" and facts["model"]["input"]["shape"][0] == 1
    assert facts["model"]["bundle"]["precision"] == "int8"

    result = edge_all("info", "--model", tiny_bundle)
    assert "sha256" in result.stdout and "verified" in result.stdout

    result = edge_all("info", "--edgetpu")
    assert result.returncode == ExitCode.ERROR and "libedgetpu.so.1" in result.stderr


def test_long_lists_show_a_progress_bar_on_a_terminal(tiny_bundle, tmp_path):
    import os

    for i in range(12):
        Image.fromarray(colour_image(i % 3, 20, 20)).save(tmp_path / f"{i:02}.png")
    main, terminal = os.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "edge_all", "classify", "-m", str(tiny_bundle), "--json", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            cwd=REPO_ROOT,
            timeout=120,
        )
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal's other end is closed: everything has been read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
    assert result.returncode == ExitCode.OK
    assert len(result.stdout.splitlines()) == 12  # stdout stays clean JSON lines
    shown = b"".join(chunks).decode()
    assert "Classifying" in shown and "100%" in shown
