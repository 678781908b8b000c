"""The physical scale of an image (micrometres per pixel): from the size of its red cells, or given.

Red cells are the one object of known size in every smear (modal diameter about 7.5 um) and the most
numerous. Their size is read as a granulometry of the red-cell mask: the area that openings with
growing disks remove peaks at the cells' inscribed radius whether they lie alone, touch or pile in
chains (which split a count of components and fool a circle fit). The mask is made on a copy shrunk
so a red cell is about ANALYSIS_DIAMETER_PX across, so the estimate does not depend on the
magnification it is read at. A field where too few red cells show, or their sizes disagree, gets no
scale and says why: a wrong scale makes every cell look bigger or smaller than it is, so it is never
guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from edge_all.cells.optics import estimate_glass, optical_density
from edge_all.cells.resample import centre_within, shrink_by
from edge_all.cells.thresholds import otsu, otsu3

ScaleSource = Literal["given", "site", "estimated", "bundle-free"]
SCALE_SOURCES: tuple[ScaleSource, ...] = ("given", "site", "estimated", "bundle-free")

RED_CELL_DIAMETER_UM = 7.5
# The scale every image is read at before quality and cells are measured (format-3 bundles carry
# it too): coarser than the home lab's fields (about 0.5 um/px), so every source is at or finer.
REFERENCE_UM_PER_PX = 0.55
# Scales a microscope camera can have: from an oil objective on a fine sensor to a low-power view.
MIN_UM_PER_PX, MAX_UM_PER_PX = 0.01, 10.0

# The red cell's diameter (px) the measurement is made at: fine enough for 5% steps, coarse enough to
# be fast and to average out JPEG and sensor noise.
ANALYSIS_DIAMETER_PX = 20.0
FIRST_PASS_SIDE = 256  # long side of the first, rough look
MAX_ENLARGE = 2.0  # smaller red cells are measured on a copy at most this much larger
MIN_DIAMETER_PX = 5.0  # below this a red cell is too few pixels to measure
MIN_RED_CELLS = 8  # red cells (area at the peak over one cell's area) needed for an estimate
MAX_SPREAD = 0.35  # interquartile range of the size spectrum's peak, relative to the peak
MIN_PEAK_SHARE = 0.35  # share of the red-cell area at the peak's size
NUCLEUS_CONTRAST = 2.5  # a class this many times denser than the red cells is nuclei, not red cells
_RADIUS_STEP = 0.5
# The analysis copy's size at most (2048x2048): its optical density and masks are about 60 bytes a
# pixel, so a whole 16-Mpixel field (or one enlarged x2) would take gigabytes; a larger field is
# measured on its centre, which at ANALYSIS_DIAMETER_PX still holds thousands of red cells.
MAX_ANALYSIS_PIXELS = 2048 * 2048


@dataclass(frozen=True)
class ScaleEstimate:
    """An image's scale and where it came from; `um_per_px` is None exactly when `reason` says why.

    source: "given" (the --um-per-px option), "site" (stored for the camera and objective),
    "estimated" (from the red cells) or "bundle-free" (no scale: a whole-field bundle that reads the
    image as given). `spread` (the relative interquartile range of the red cells' sizes) and
    `red_cells` (how many were measured) are the estimate's; a given scale has None and 0.
    """

    um_per_px: float | None
    source: ScaleSource
    spread: float | None = None
    red_cells: int = 0
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SCALE_SOURCES:
            raise ValueError(f"unknown scale source {self.source!r}; known: {', '.join(SCALE_SOURCES)}")
        if (self.um_per_px is None) == (self.reason is None):
            raise ValueError("a scale has either um_per_px or the reason it is unknown, not both")

    @property
    def known(self) -> bool:
        return self.um_per_px is not None

    @classmethod
    def given(cls, um_per_px: float, source: ScaleSource = "given") -> ScaleEstimate:
        """A scale someone gave (the option) or stored for the camera and objective ("site")."""
        require_um_per_px(um_per_px)
        return cls(float(um_per_px), source)

    def reduced(self, reduction: int) -> ScaleEstimate:
        """This scale at an image decoded `reduction` times smaller (a large JPEG's draft decode):
        each of its pixels spans `reduction` of the file's, so as many times the micrometres."""
        if reduction == 1 or self.um_per_px is None:
            return self
        return replace(self, um_per_px=self.um_per_px * reduction)

    @classmethod
    def bundle_free(cls) -> ScaleEstimate:
        """No scale: the image is read as given (an old whole-field bundle, a plain .tflite)."""
        return cls(None, "bundle-free", reason="this model reads the whole image as given, at no scale")

    def to_dict(self) -> dict[str, float | str | int | None]:
        """What a result records: the scale used and its source (and the estimate's evidence)."""
        return {
            "um_per_px": None if self.um_per_px is None else round(self.um_per_px, 5),
            "source": self.source,
            "spread": None if self.spread is None else round(self.spread, 4),
            "red_cells": self.red_cells,
            "reason": self.reason,
        }


def require_um_per_px(value: float) -> None:
    """Refuse a scale no microscope camera has (and NaN, which passes every comparison)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"um per px must be a finite number, not {value!r}")
    if not MIN_UM_PER_PX <= value <= MAX_UM_PER_PX:
        raise ValueError(f"um per px must be between {MIN_UM_PER_PX:g} and {MAX_UM_PER_PX:g}, not {value:g}")


def red_cell_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels of red cells (their central pallor filled), white-cell nuclei left out.

    Glass, red cells and nuclei are three levels of optical density. The cut between glass and red
    cells is Otsu's, made without the nuclei when a third, much denser class is there (a field
    crowded with white cells would otherwise put the cut between red cells and nuclei).
    """
    od = optical_density(rgb, estimate_glass(rgb))
    s = ndi.gaussian_filter(od.sum(axis=-1), 0.7)
    v = np.clip(s, 0.0, np.percentile(s, 99.5))
    low, high = otsu3(v)
    mid, top = v[(v > low) & (v <= high)], v[v > high]
    if top.size and mid.size and top.mean() > NUCLEUS_CONTRAST * mid.mean():
        cut, nuclei = low, s > high
    else:
        cut, nuclei = otsu(v), np.zeros(s.shape, bool)
    cells = ndi.binary_fill_holes(s > cut)
    nuclei = ndi.binary_dilation(nuclei, iterations=2) & cells
    return ndi.binary_opening(cells & ~nuclei, iterations=1)


def size_spectrum(mask: np.ndarray, max_radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The mask's pattern spectrum: radii, and the area the opening with each disk radius removes."""
    edt = ndi.distance_transform_edt(mask)
    top = float(edt.max()) if max_radius is None else min(float(edt.max()), max_radius)
    if top < 1.5:
        return np.zeros(0), np.zeros(0)
    radii = np.arange(1.0, top + _RADIUS_STEP, _RADIUS_STEP)
    kept = np.empty(radii.size)
    for i, r in enumerate(radii):
        core = edt >= r  # the centres of disks of radius r inside the mask
        kept[i] = np.count_nonzero(ndi.distance_transform_edt(~core) < r) if core.any() else 0.0
    return radii, -np.diff(np.concatenate([kept, [0.0]]))


@dataclass(frozen=True)
class _Peak:
    diameter: float  # px, at the size it was measured at
    spread: float
    cells: float
    share: float


def _peak(radii: np.ndarray, spectrum: np.ndarray) -> _Peak | None:
    total = float(spectrum.sum())
    if radii.size < 3 or total <= 0:
        return None
    smooth = np.convolve(spectrum, [0.25, 0.5, 0.25], mode="same")
    k = int(np.argmax(smooth[1:])) + 1  # radius 1 is noise and thin edges
    band = (radii > radii[k] / 1.25) & (radii < radii[k] * 1.25)
    weight = spectrum[band]
    if float(weight.sum()) <= 0.0:  # nothing at the peak's size: no red cells to speak of
        return None
    radius = float((radii[band] * weight).sum() / weight.sum())
    cum = np.cumsum(weight) / max(weight.sum(), 1e-9)
    q1, q3 = np.interp([0.25, 0.75], cum, radii[band])
    return _Peak(
        diameter=2.0 * radius,
        spread=float((q3 - q1) / radius),
        cells=float(weight.sum() / (np.pi * radius * radius)),
        share=float(weight.sum() / total),
    )


def _analysis_copy(rgb: np.ndarray, factor: float) -> np.ndarray:
    """The copy the red cells are measured on: area-averaged down, or (small red cells) bicubic up,
    which only gives the disks of the granulometry finer steps than whole pixels; never the product's
    resampling (edge_all.cells.resample never upsamples)."""
    if factor <= 1.0:
        return shrink_by(rgb, factor)
    h, w = rgb.shape[:2]
    return np.asarray(
        Image.fromarray(rgb).resize((round(w * factor), round(h * factor)), Image.Resampling.BICUBIC)
    )


def _measure(rgb: np.ndarray, factor: float, max_radius: float | None = None) -> _Peak | None:
    mask = red_cell_mask(_analysis_copy(centre_within(rgb, MAX_ANALYSIS_PIXELS / factor**2), factor))
    return _peak(*size_spectrum(mask, max_radius)) if mask.any() else None


def _unknown(reason: str, peak: _Peak | None = None) -> ScaleEstimate:
    spread = None if peak is None else peak.spread
    return ScaleEstimate(None, "estimated", spread, 0 if peak is None else int(peak.cells), reason)


def estimate_scale(rgb: np.ndarray, red_cell_um: float = RED_CELL_DIAMETER_UM) -> ScaleEstimate:
    """Micrometres per pixel of an (H, W, 3) uint8 field from its red cells, or the reason there is none.

    A rough look at a copy whose long side is FIRST_PASS_SIDE finds the red cells' size; the
    measurement is then made again on a copy where a red cell is ANALYSIS_DIAMETER_PX across.
    """
    h, w = rgb.shape[:2]
    if min(h, w) < 8:
        return _unknown(f"image too small ({w}x{h} px) to measure red cells")
    first = min(1.0, FIRST_PASS_SIDE / max(h, w))
    rough = _measure(rgb, first)
    if rough is None or rough.cells < 1.0:
        return _unknown("no red cells", rough)
    native = rough.diameter / first
    if native < MIN_DIAMETER_PX:
        return _unknown(f"red cells too small to measure ({native:.1f} px)", rough)
    # Red cells smaller than the analysis size are measured on a copy up to MAX_ENLARGE times larger.
    factor = min(MAX_ENLARGE, ANALYSIS_DIAMETER_PX / native)
    peak = rough
    if abs(factor - first) > 0.15 * first:
        fine = _measure(rgb, factor, max_radius=2.0 * ANALYSIS_DIAMETER_PX)
        peak, factor = (fine, factor) if fine is not None else (rough, first)
    else:
        factor = first
    if peak.diameter / factor < MIN_DIAMETER_PX:
        return _unknown(f"red cells too small to measure ({peak.diameter / factor:.1f} px)", peak)
    if peak.cells < MIN_RED_CELLS:
        return _unknown(f"too few red cells ({peak.cells:.0f} measured, {MIN_RED_CELLS} needed)", peak)
    if peak.spread > MAX_SPREAD or peak.share < MIN_PEAK_SHARE:
        return _unknown(
            f"red cell sizes disagree (spread {peak.spread:.2f}, {peak.share:.0%} of the area at one size)",
            peak,
        )
    diameter = peak.diameter / factor
    return ScaleEstimate(red_cell_um / diameter, "estimated", peak.spread, int(round(peak.cells)), None)


def scale_of(rgb: np.ndarray, given: ScaleEstimate | None = None, reads_cells: bool = False) -> ScaleEstimate:
    """The scale an image is read at: the one given (option or site), else the red cells' estimate.

    A whole-field model (format 1/2 bundle, plain .tflite) reads the image at no scale; where the
    estimate fails for one, the result is "bundle-free", carrying the estimate's reason (its quality
    is then measured the old way). A model that reads cells (`reads_cells`) gets the failed estimate
    itself, which triage refers as "scale unknown".
    """
    if given is not None and given.known:
        return given
    estimate = estimate_scale(rgb)
    if estimate.known or reads_cells:
        return estimate
    return ScaleEstimate(None, "bundle-free", estimate.spread, estimate.red_cells, estimate.reason)
