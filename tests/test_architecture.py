"""The architecture holds: the import contracts in pyproject.toml, checked by import-linter.

Layers: convert > training > edge_all (the device package imports neither stage above it); inside
edge_all, its rooms: cli > station > capture > results > triage > runtime > the shared leaves (errors,
exit_codes, extras, digest, regular_files, jsonfile, safe_text, safe_write, clock), every top-level
module in one; no import cycle among the modules of any package; the runtime never imports an ML
framework. Imports inside functions count as imports.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
ROOMS = "rooms"  # the id of the layers contract of edge_all's rooms in pyproject.toml


def lint_imports(where: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], capture_output=True, text=True, cwd=where, timeout=120
    )


def test_the_import_contracts_are_kept():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 4 kept, 0 broken." in done.stdout, done.stdout


def _copy_of_the_tree(tmp_path: Path) -> Path:
    """The three packages' Python files and pyproject.toml, where an import can be broken on purpose."""
    copy = tmp_path / "tree"
    for package in ("edge_all", "training", "convert"):
        shutil.copytree(
            REPO / package,
            copy / package,
            ignore=lambda folder, names: [n for n in names if not n.endswith(".py") and "." in n],
        )
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_rooms_contract_breaks_on_an_import_up_the_layers(tmp_path):
    copy = _copy_of_the_tree(tmp_path)
    assert lint_imports(copy, "--contract", ROOMS).returncode == 0  # the copy holds, as the tree does
    labels = copy / "edge_all" / "runtime" / "labels.py"
    labels.write_text(labels.read_text(encoding="utf-8") + "\nimport edge_all.cli.main  # up the layers\n")
    done = lint_imports(copy, "--contract", ROOMS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Contracts: 0 kept, 1 broken." in done.stdout, done.stdout
    assert "edge_all.runtime is not allowed to import edge_all.cli" in done.stdout, done.stdout
    assert "edge_all.runtime.labels -> edge_all.cli.main" in done.stdout, done.stdout


def test_a_new_top_level_module_must_be_given_a_room(tmp_path):
    copy = _copy_of_the_tree(tmp_path)
    (copy / "edge_all" / "outbox.py").write_text('"""A new room, not yet placed in the layers."""\n')
    done = lint_imports(copy, "--contract", ROOMS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "edge_all.outbox" in done.stdout, done.stdout


def test_the_picture_in_the_docs_is_the_house_as_it_stands():
    """docs/img/architecture.svg is drawn from the code; redraw it when a room or module changes:
    .venv/bin/python scripts/architecture_picture.py > docs/img/architecture.svg"""
    drawn = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "architecture_picture.py")],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert drawn == (REPO / "docs" / "img" / "architecture.svg").read_text(encoding="utf-8"), (
        "docs/img/architecture.svg is out of date: redraw it with scripts/architecture_picture.py"
    )
    assert "no room imports a room above it" in drawn
