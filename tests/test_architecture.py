"""The architecture holds: the import contracts in pyproject.toml, checked by import-linter.

Layers: convert > training > edge_all (the device package imports neither stage above it); no
import cycle among the modules of any package; the runtime never imports an ML framework. Imports
inside functions count as imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout, done.stdout
