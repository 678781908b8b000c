"""The models that ship inside the package: the reference bundle, so a fresh install classifies real smears.

`reference/` is an int8 bundle (model.tflite, labels.txt, bundle.json, referral.npz, heatmap.npz)
trained on the public ALL dataset; docs/model-card.md says how, on what, how well, and its limits.
`cells/` is the int8 cell model (bundle format 3: reads each white cell at 0.55 um/px), trained on
the ALL dataset and two labs' normal white cells; docs/model-card-cells.md. `--model NAME` picks a
shipped bundle by its name in NAMED.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from edge_all.errors import EdgeAllError

REFERENCE = "reference"
CELLS = "cells"
NAMED = {REFERENCE: REFERENCE, CELLS: CELLS}  # `--model NAME` -> the shipped bundle's folder here


class NoReferenceBundle(EdgeAllError):
    """This install carries no reference bundle (a source checkout without it, or a stripped package)."""


def reference_bundle() -> Path:
    """The directory of the reference bundle inside the installed package."""
    path = Path(str(resources.files(__package__) / REFERENCE))
    if not (path / "bundle.json").is_file():
        raise NoReferenceBundle(f"{path}: no reference bundle in this install; give --model BUNDLE_DIR")
    return path


def installed_reference() -> Path | None:
    """The reference bundle if this install carries one (for commands where a model is optional)."""
    try:
        return reference_bundle()
    except NoReferenceBundle:
        return None


def named_bundle(name: str) -> Path | None:
    """The shipped bundle called `name` (NAMED), None when `name` is not one or this install lacks it."""
    folder = NAMED.get(name)
    if folder is None:
        return None
    path = Path(str(resources.files(__package__) / folder))
    return path if (path / "bundle.json").is_file() else None
