"""Helpers for the convert tests: copies of the trained run to damage, and the real CLI in a subprocess."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli_runner import run_edge_all as _run_cli

REPO = Path(__file__).resolve().parents[2]


def _error_lines(stderr: str) -> list[str]:
    """The lines our CLI writes as errors (TensorFlow's own start-up chatter is not ours)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def edge_all_cli():
    """Run the real CLI in a subprocess: returns the completed process."""
    return _run_cli


@pytest.fixture
def error_lines():
    """Pick our `error:` lines out of a subprocess's stderr."""
    return _error_lines


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the trained run dir (model, split, config) that a test may break."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy
