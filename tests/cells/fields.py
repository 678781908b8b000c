"""Synthetic smear fields with every cell at a known place and size, at any physical scale.

Glass, red cells (7.5 um pink discs with a pale centre), white cells (a violet nucleus of 6.5-9 um,
round or in 3-5 lobes, in a pale lilac cytoplasm of 10-14 um) and platelets (2-3 um violet dots, alone
or in small clumps), drawn with soft edges and sensor noise at `um_per_px`. The tests and
benchmarks/cells_finder.py use them; nothing here reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

GLASS = np.array([236.0, 232.0, 240.0])
RED_CELL = np.array([214.0, 150.0, 160.0])
NUCLEUS = np.array([92.0, 62.0, 150.0])
CYTOPLASM = np.array([205.0, 195.0, 225.0])
PLATELET = np.array([150.0, 110.0, 175.0])


@dataclass(frozen=True)
class SyntheticField:
    rgb: np.ndarray  # (H, W, 3) uint8
    um_per_px: float
    white_cells: tuple[tuple[float, float, float], ...]  # (x, y, radius) in pixels, of the whole cell
    platelets: tuple[tuple[float, float], ...]  # (x, y) of each platelet clump


def _disc(yy: np.ndarray, xx: np.ndarray, x: float, y: float, r: float) -> np.ndarray:
    """Coverage of a disc, with a one-pixel soft edge."""
    return np.clip(r + 0.5 - np.hypot(xx - x, yy - y), 0.0, 1.0)


def _paint(image: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> None:
    image += coverage[..., None] * (colour - image)


def synthetic_field(
    seed: int,
    um_per_px: float = 0.55,
    white_cells: int = 2,
    red_cells: int | None = None,
    platelet_clumps: int = 3,
    size_um: tuple[float, float] = (110.0, 150.0),
    lobed: bool | None = None,
) -> SyntheticField:
    """A field `size_um` (height, width) across, at `um_per_px`, from `seed`."""
    rng = np.random.default_rng(seed)
    h, w = (round(s / um_per_px) for s in size_um)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.broadcast_to(GLASS, (h, w, 3)).astype(np.float32).copy()
    taken: list[tuple[float, float, float]] = []

    def place(radius_um: float, edge_um: float) -> tuple[float, float] | None:
        for _ in range(200):
            x = rng.uniform(edge_um, size_um[1] - edge_um)
            y = rng.uniform(edge_um, size_um[0] - edge_um)
            if all(np.hypot(x - a, y - b) > radius_um + r + 0.5 for a, b, r in taken):
                taken.append((x, y, radius_um))
                return x, y
        return None

    whites = []
    for _ in range(white_cells):
        cell_um = rng.uniform(10.0, 14.0)
        spot = place(cell_um / 2, cell_um / 2 + 1)
        if spot is not None:
            whites.append((spot, cell_um, rng.uniform(6.5, 9.0)))
    plates = [spot for _ in range(platelet_clumps) if (spot := place(3.0, 4.0)) is not None]
    count = red_cells if red_cells is not None else int(0.35 * size_um[0] * size_um[1] / 44.0)
    reds = [spot for _ in range(count) if (spot := place(3.75, 0.0)) is not None]

    def px(v: float) -> float:
        return v / um_per_px

    for x, y in reds:
        _paint(image, _disc(yy, xx, px(x), px(y), px(3.75)), RED_CELL)
        _paint(image, 0.5 * _disc(yy, xx, px(x), px(y), px(1.5)), GLASS)
    cells = []
    for (x, y), cell_um, nucleus_um in whites:
        _paint(image, _disc(yy, xx, px(x), px(y), px(cell_um / 2)), CYTOPLASM)
        lobes = int(rng.integers(3, 6)) if (lobed if lobed is not None else rng.random() < 0.4) else 1
        if lobes == 1:
            _paint(image, _disc(yy, xx, px(x), px(y), px(nucleus_um / 2)), NUCLEUS)
        else:  # a neutrophil: lobes of about 3 um joined by thin strands, around the centre
            angles = rng.uniform(0, 2 * np.pi) + np.arange(lobes) * 2 * np.pi / lobes
            for a in angles:
                lx, ly = x + 2.0 * np.cos(a), y + 2.0 * np.sin(a)
                _paint(image, _disc(yy, xx, px(lx), px(ly), px(2.0)), NUCLEUS)
        cells.append((px(x), px(y), px(cell_um / 2)))
    clumps = []
    for x, y in plates:
        for _ in range(int(rng.integers(1, 4))):
            _paint(
                image,
                _disc(yy, xx, px(x + rng.uniform(-1, 1)), px(y + rng.uniform(-1, 1)), px(1.1)),
                PLATELET,
            )
        clumps.append((px(x), px(y)))
    image = ndi.gaussian_filter(image, (max(0.5, 0.3 / um_per_px),) * 2 + (0,))
    image += rng.normal(0, 2.0, image.shape)
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    return SyntheticField(rgb, um_per_px, tuple(cells), tuple(clumps))
