"""The white cells of a field: their stained nuclei, found at a known scale with numpy and scipy.

A white cell's nucleus is the one thing in a smear that is both dark and blue-violet: it absorbs red
and green light more than blue, where a red cell absorbs green and blue. The finder reads optical
density against the glass (edge_all.cells.optics, so a dim or tinted lamp changes nothing), scores
each pixel `(OD_red + OD_green) / 2 - OD_blue + OD_sum / 2`, and cuts the score at the upper of
Otsu's two three-class cuts (glass, red cells, nuclei; never below FinderSettings.floor). Pieces
thinner than a nucleus (the dark rims of red cells) are dropped, the lobes of one nucleus (a
neutrophil's) are joined, and a clump of touching nuclei is split at its distance-transform peaks.
What is left smaller than a nucleus at the known scale (platelets, platelet clumps, debris), or
larger than a few (a thick edge of the smear), is not a white cell.

Measured on 150 fields of another laboratory (docs/cells.md): benchmarks/cells_finder.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from edge_all.cells.optics import estimate_glass, optical_density
from edge_all.cells.thresholds import otsu3


@dataclass(frozen=True)
class FinderSettings:
    """The finder's cuts, in micrometres where they are sizes (so one setting holds at any scale)."""

    floor: float = 0.2  # the lowest cut on the nucleus score (OD units): a field of glass finds nothing
    min_nucleus_um2: float = 25.0  # smaller stained pieces are platelets and debris (a small lymphocyte: ~35)
    min_thickness_um: float = 1.35  # a nucleus is at least this deep from its edge (red-cell rims are not)
    join_um: float = 1.6  # stained pieces this close are lobes of one nucleus
    split_um2: float = 160.0  # a group larger than this may be touching nuclei: split at its peaks
    max_group_um2: float = 600.0  # a stained mass larger than this is a thick smear edge or debris
    peak_gap_um: float = 5.0  # split only at peaks this far apart (two nuclei, not two lobes)
    margin_um: float = 2.5  # the cell's box: the nucleus's, widened by the cytoplasm around it
    min_box_um: float = 9.0  # and never smaller than a small lymphocyte

    def __post_init__(self) -> None:
        if min(self.min_nucleus_um2, self.min_thickness_um, self.join_um, self.min_box_um) <= 0:
            raise ValueError("finder sizes must be positive")


@dataclass(frozen=True)
class CellBox:
    """One white cell: its box and nucleus centre in the pixels of the image it was found in."""

    x0: float
    y0: float
    x1: float
    y1: float
    cx: float
    cy: float
    nucleus_um2: float

    def scaled(self, factor: float) -> CellBox:
        """The same cell in an image `1 / factor` times as large (back to the pixels as given)."""
        k = 1.0 / factor
        return CellBox(
            self.x0 * k, self.y0 * k, self.x1 * k, self.y1 * k, self.cx * k, self.cy * k, self.nucleus_um2
        )

    def clipped(self, width: int, height: int) -> CellBox:
        """The box inside an image of this size (a cell at the edge keeps its centre)."""
        return CellBox(
            max(0.0, self.x0), max(0.0, self.y0), min(float(width), self.x1), min(float(height), self.y1),
            self.cx, self.cy, self.nucleus_um2,
        )  # fmt: skip

    def pixels(self) -> tuple[int, int, int, int]:
        """[x0, y0, x1, y1] as whole pixels (x1, y1 exclusive)."""
        return (int(np.floor(self.x0)), int(np.floor(self.y0)), int(np.ceil(self.x1)), int(np.ceil(self.y1)))


def nucleus_score(rgb: np.ndarray) -> np.ndarray:
    """Per pixel: how much like a stained nucleus (dark and blue-violet against the glass)."""
    od = optical_density(rgb, estimate_glass(rgb))
    score = (od[..., 0] + od[..., 1]) / 2.0 - od[..., 2] + od.sum(axis=-1) / 2.0
    return ndi.gaussian_filter(score, 1.0)


def nucleus_mask(
    rgb: np.ndarray, um_per_px: float, settings: FinderSettings = FinderSettings()
) -> np.ndarray:
    """The nucleus pixels: the score's cut, holes filled, pieces thinner than a nucleus dropped."""
    score = nucleus_score(rgb)
    cut = max(settings.floor, otsu3(score)[1])
    mask = ndi.binary_fill_holes(score > cut)
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    # A piece is kept when any of its pixels lies min_thickness_um inside it (np.unique of the labels
    # under those pixels: far cheaper than a per-label maximum, which sorts the whole image).
    core = ndi.distance_transform_edt(mask) * um_per_px >= settings.min_thickness_um
    keep = np.zeros(n + 1, bool)
    keep[np.unique(labels[core])] = True
    keep[0] = False
    return keep[labels]


def find_white_cells(
    rgb: np.ndarray, um_per_px: float, settings: FinderSettings = FinderSettings()
) -> tuple[CellBox, ...]:
    """Each white cell of an (H, W, 3) uint8 field at `um_per_px`, left to right then top to bottom."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 8:
        return ()
    mask = nucleus_mask(rgb, um_per_px, settings)
    join = max(1, round(settings.join_um / um_per_px))
    groups, _ = ndi.label(ndi.binary_dilation(mask, iterations=join))
    groups = groups * mask
    px_area = um_per_px * um_per_px
    cells: list[CellBox] = []
    for index, where in enumerate(ndi.find_objects(groups), start=1):
        if where is None:
            continue
        nucleus = groups[where] == index
        if float(nucleus.sum()) * px_area > settings.max_group_um2:
            continue
        for part in _split(nucleus, um_per_px, settings):
            area = float(part.sum()) * px_area
            if area < settings.min_nucleus_um2:
                continue
            cells.append(_box(part, where, area, um_per_px, settings, rgb.shape))
    return tuple(sorted(cells, key=lambda c: (round(c.cy), c.cx)))


def _split(nucleus: np.ndarray, um_per_px: float, settings: FinderSettings) -> list[np.ndarray]:
    """A group of touching nuclei as one mask per nucleus (each pixel to its nearest peak)."""
    if float(nucleus.sum()) * um_per_px * um_per_px <= settings.split_um2:
        return [nucleus]
    depth = ndi.distance_transform_edt(nucleus)
    gap = settings.peak_gap_um / um_per_px
    size = max(3, int(round(gap)) | 1)
    peaks = (depth == ndi.maximum_filter(depth, size=size)) & (depth * um_per_px >= settings.min_thickness_um)
    ys, xs = np.nonzero(peaks)
    kept: list[tuple[int, int]] = []
    for y, x in sorted(zip(ys.tolist(), xs.tolist(), strict=True), key=lambda p: -depth[p]):
        if all((y - a) ** 2 + (x - b) ** 2 >= gap * gap for a, b in kept):
            kept.append((y, x))
    if len(kept) < 2:
        return [nucleus]
    markers = np.zeros(nucleus.shape, np.int32)
    for i, (y, x) in enumerate(kept, start=1):
        markers[y, x] = i
    _, (iy, ix) = ndi.distance_transform_edt(markers == 0, return_indices=True)
    owner = markers[iy, ix]
    return [nucleus & (owner == i) for i in range(1, len(kept) + 1)]


def _box(
    part: np.ndarray,
    where: tuple[slice, slice],
    area: float,
    um_per_px: float,
    settings: FinderSettings,
    shape: tuple[int, ...],
) -> CellBox:
    ys, xs = np.nonzero(part)
    oy, ox = where[0].start, where[1].start
    cy, cx = float(ys.mean()) + oy + 0.5, float(xs.mean()) + ox + 0.5
    margin = settings.margin_um / um_per_px
    half_min = settings.min_box_um / um_per_px / 2.0
    x0, x1 = min(xs.min() + ox - margin, cx - half_min), max(xs.max() + ox + 1 + margin, cx + half_min)
    y0, y1 = min(ys.min() + oy - margin, cy - half_min), max(ys.max() + oy + 1 + margin, cy + half_min)
    return CellBox(float(x0), float(y0), float(x1), float(y1), cx, cy, area).clipped(shape[1], shape[0])
