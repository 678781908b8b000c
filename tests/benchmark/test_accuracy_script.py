"""benchmarks/accuracy.py on the synthetic run: the float vs int8 table a user reads, per class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLASSES = ("Benign", "Early", "Pre", "Pro")


def accuracy_script(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.accuracy", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
    )


def table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4:
            rows[cells[0]] = cells[1:]
    return rows


def test_table_from_a_run_dir(trained_run, tmp_path):
    out = tmp_path / "accuracy"
    result = accuracy_script("--run", trained_run, "--out", out, "--calibration-samples", 20)
    assert result.returncode == 0, result.stderr
    markdown = (out / "accuracy.md").read_text()
    assert result.stdout.strip() == markdown.strip()
    report = json.loads((out / "bundle-int8" / "accuracy_check.json").read_text())
    rows = table_rows(markdown)
    assert rows["accuracy"][:2] == [
        f"{100 * report['float_model']['accuracy']:.1f} %",
        f"{100 * report['converted']['accuracy']:.1f} %",
    ]
    for label in CLASSES:
        support = report["support"][label]
        recall = report["converted"]["per_class_recall"][label]
        assert rows[f"recall {label} (n={support})"][1] == f"{100 * recall:.1f} %"
        assert f"precision {label}" in rows
    # Both confusion matrices, whose counts add up to the images evaluated.
    for name in ("float32 Keras", "int8 TFLite"):
        section = markdown.split(f"Confusion matrix, {name}:")[1].split("\n\n")[1]
        counts = [int(c) for line in section.splitlines()[2:] for c in line.strip("|").split("|")[1:]]
        assert sum(counts) == report["images"]
    assert "no patient ids" in markdown
    assert f"--run {trained_run}" in markdown  # the command that made it


def test_needs_data_or_run():
    result = accuracy_script()
    assert result.returncode == 2
    assert "--data DIR" in result.stderr
