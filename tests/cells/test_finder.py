"""The white-cell finder on synthetic fields with every cell at a known place, at several scales."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.cells.finder import CellBox, FinderSettings, find_white_cells
from edge_all.cells.resample import to_scale
from tests.cells.fields import GLASS, synthetic_field

BUNDLE_UM_PER_PX = 0.55


def found_in_original(field) -> list[CellBox]:
    at = to_scale(field.rgb, field.um_per_px, BUNDLE_UM_PER_PX)
    return [cell.scaled(at.factor) for cell in find_white_cells(at.rgb, at.um_per_px)]


def inside(cell: CellBox, x: float, y: float) -> bool:
    return cell.x0 <= x <= cell.x1 and cell.y0 <= y <= cell.y1


@pytest.mark.parametrize("um_per_px", [0.1, 0.25, 0.55])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_white_cell_is_found_once_and_nothing_else(seed, um_per_px):
    field = synthetic_field(seed, um_per_px=um_per_px, white_cells=3, lobed=False, size_um=(70.0, 90.0))
    cells = found_in_original(field)
    assert len(cells) == len(field.white_cells)
    for x, y, radius in field.white_cells:
        (match,) = [c for c in cells if np.hypot(c.cx - x, c.cy - y) < radius]
        assert inside(match, x, y)
        # the box holds the cell: at least its nucleus, at most a little more than the whole cell
        assert 0.8 * radius <= (match.x1 - match.x0) / 2 <= 1.6 * radius


def test_a_lobed_nucleus_is_one_cell():
    field = synthetic_field(5, um_per_px=0.25, white_cells=2, lobed=True)
    assert len(found_in_original(field)) == len(field.white_cells)


def test_platelets_are_not_white_cells():
    field = synthetic_field(7, um_per_px=0.25, white_cells=0, platelet_clumps=8)
    assert field.platelets and found_in_original(field) == []


def test_bare_glass_and_a_tiny_image_find_nothing():
    glass = np.broadcast_to(GLASS.astype(np.uint8), (120, 160, 3)).copy()
    assert find_white_cells(glass, BUNDLE_UM_PER_PX) == ()
    assert find_white_cells(glass[:4, :4], BUNDLE_UM_PER_PX) == ()


def test_boxes_scale_back_to_the_pixels_as_given():
    cell = CellBox(10, 20, 30, 40, 20, 30, 50.0)
    assert cell.scaled(0.5).pixels() == (20, 40, 60, 80)
    assert cell.clipped(25, 100).x1 == 25


def test_the_settings_refuse_a_size_of_zero():
    with pytest.raises(ValueError):
        FinderSettings(min_nucleus_um2=0)
