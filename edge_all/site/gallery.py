"""The commissioning report's cells: the white cells found in the commissioning fields, by class.

The threshold check (edge_all.triage.site_threshold) reads every cell once; it hands each one out as a
CellSeen, and this module only groups them for the page (ALL-like classes first, a few crops each, so
a specialist can look at what the model called what without the page growing with the fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PER_CLASS = 12  # crops shown per class; the count is of all of them
ROLE_ORDER = ("all_like", "refer", "not_all_like", "not_a_white_cell")


def data_uri(rgb: np.ndarray) -> str:
    """An RGB image as a PNG data URI (the report holds its pictures inside the page)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class CellSeen:
    """One white cell of a commissioning field as the model read it (the crop it was given)."""

    field: str  # the field's file name
    label: str
    role: str  # the label's role in the bundle (edge_all.runtime.bundle.LABEL_ROLES)
    confidence: float
    status: str  # edge_all.triage.cells.CellStatus' value
    crop: np.ndarray  # uint8 RGB, the model-sized crop


@dataclass(frozen=True)
class Shown:
    src: str  # a PNG data URI
    status: str
    caption: str


@dataclass(frozen=True)
class CellGroup:
    label: str
    role: str
    count: int
    shown: tuple[Shown, ...]


def groups(cells: Sequence[CellSeen], per_class: int = PER_CLASS) -> tuple[CellGroup, ...]:
    """The cells by class: ALL-like classes first, then by count; at most `per_class` crops each."""
    by_label: dict[str, list[CellSeen]] = {}
    for cell in cells:
        by_label.setdefault(cell.label, []).append(cell)
    order = sorted(
        by_label.items(),
        key=lambda item: (ROLE_ORDER.index(item[1][0].role) if item[1][0].role in ROLE_ORDER else 9,
                          -len(item[1]), item[0]),
    )  # fmt: skip
    return tuple(
        CellGroup(
            label, seen[0].role, len(seen),
            tuple(Shown(data_uri(c.crop), c.status, f"{c.field}: {c.confidence:.0%}, {c.status}")
                  for c in seen[:per_class]),
        )
        for label, seen in order
    )  # fmt: skip
