"""Synthetic smear fields at a known physical scale: red cells (pale-centred pink discs, diameters about
7.5 um with a 5% spread) and a few purple white cells on bright glass, with optical blur and sensor
noise, so a test knows the scale a field was drawn at."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

GLASS = (238, 234, 240)
RED_CELL = (214, 148, 156)
PALLOR = (228, 196, 204)
NUCLEUS = (112, 58, 150)


def _disc(canvas: np.ndarray, cy: float, cx: float, radius: float, colour: tuple[int, int, int]) -> None:
    h, w = canvas.shape[:2]
    y0, y1 = max(0, int(cy - radius - 1)), min(h, int(cy + radius + 2))
    x0, x1 = max(0, int(cx - radius - 1)), min(w, int(cx + radius + 2))
    yy, xx = np.ogrid[y0:y1, x0:x1]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    canvas[y0:y1, x0:x1][inside] = colour


def draw_field(
    um_per_px: float,
    size: tuple[int, int] = (320, 240),
    red_cells: int | None = None,
    white_cells: int = 1,
    lamp: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """An (H, W, 3) uint8 field at `um_per_px`; `red_cells` None fills about a third of it; `lamp`
    scales the light (glass and cells together, as a dimmer bulb does)."""
    rng = np.random.default_rng(seed)
    w, h = size
    diameter = 7.5 / um_per_px
    canvas = np.empty((h, w, 3), np.float32)
    canvas[:] = GLASS
    wanted = red_cells if red_cells is not None else int(0.35 * w * h / (np.pi * diameter**2 / 4))
    placed: list[tuple[float, float, float]] = []
    for _ in range(wanted * 30):
        if len(placed) >= wanted:
            break
        r = diameter / 2 * rng.normal(1.0, 0.05)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        if all((cy - y) ** 2 + (cx - x) ** 2 > (r + q + 1) ** 2 for y, x, q in placed):
            placed.append((cy, cx, r))
    for cy, cx, r in placed:
        _disc(canvas, cy, cx, r, RED_CELL)
        _disc(canvas, cy, cx, 0.35 * r, PALLOR)
    for _ in range(white_cells):
        cy, cx = rng.uniform(0.2 * h, 0.8 * h), rng.uniform(0.2 * w, 0.8 * w)
        _disc(canvas, cy, cx, 0.8 * diameter, (200, 170, 210))
        _disc(canvas, cy, cx, 0.55 * diameter, NUCLEUS)
    rgb = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    # The optics: a blur of about 0.3 um, then the sensor's noise, then the lamp.
    rgb = rgb.filter(ImageFilter.GaussianBlur(max(0.5, 0.3 / um_per_px)))
    pixels = np.asarray(rgb).astype(np.float32) * lamp + rng.normal(0, 2.5, (h, w, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def blurred(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(sigma)))
