"""The models that ship inside the package: the reference bundle, so a fresh install classifies real smears.

`reference/` is an int8 bundle (model.tflite, labels.txt, bundle.json, referral.npz, heatmap.npz)
trained on the public ALL dataset; docs/model-card.md says how, on what, how well, and its limits.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from edge_all.errors import EdgeAllError

REFERENCE = "reference"


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
