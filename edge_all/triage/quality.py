"""Image-quality gate: refuse frames a classifier should not be trusted on.

A blurred, dark, washed-out or empty field of view still produces a confident-looking softmax.
These checks run before the model, need only numpy (no OpenCV on the device), and say in words
why a frame was refused so the operator can refocus, fix the light or move the slide.

Where the image's physical scale is known (given, stored for the site, or estimated from its red
cells: edge_all.cells.scale), the metrics are measured on a copy resampled by area averaging to the
reference scale (REFERENCE_UM_PER_PX, 0.55 um per pixel), so a sharp image at five times the home
lab's magnification is as sharp as the home lab's: focus means the same on every microscope. Where
the scale is unknown, they are measured as before, on a copy scaled so its short side is
ANALYSIS_SIDE pixels (the size of the public ALL dataset's images), and a sharp image at another
magnification can read as out of focus: the metrics record which (`um_per_px`, None for the old way).
The exposure is judged against the glass: "too dark" is a dim lamp (the bare glass is dark), not a
field crowded with cells under a lamp set as another lab sets it. The thresholds
(edge_all.triage.thresholds.QualityThresholds) were tuned with benchmarks/quality_thresholds.py
(docs/capture.md) and checked on other labs' images with benchmarks/quality_at_scale.py (docs/scale.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from edge_all.cells.resample import centre_within, to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX
from edge_all.triage.thresholds import QualityThresholds

ANALYSIS_SIDE = 224
# A microscope field of view is round or a camera's 4:3 or 16:9 frame; a frame more than this many
# times wider than tall (or taller than wide) is not one, and is rejected before any other check.
MAX_ASPECT_RATIO = 10.0
# ITU-R BT.601 luma weights: what "brightness" means for 8-bit RGB.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# The glass (the lamp's level) is the luma this share of the pixels reach: in a smear even a packed
# field shows this much bare glass between its cells, and a few hot pixels are above it.
GLASS_PERCENTILE = 98.0


@dataclass(frozen=True)
class QualityMetrics:
    brightness: float
    contrast: float
    clipped: float
    stained: float
    focus: float
    glass: float | None = None  # the luma of the bare glass (the lamp's level); None: not measured
    um_per_px: float | None = None  # the scale measured at; None: the old 224-px copy (scale unknown)

    def to_dict(self) -> dict[str, float]:
        return {name: round(value, 5) for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class QualityReport:
    metrics: QualityMetrics
    reason: str | None  # None when the frame passed; otherwise "code: explanation"

    @property
    def passed(self) -> bool:
        return self.reason is None


def analysis_copy(rgb: np.ndarray) -> np.ndarray:
    """Scale an RGB uint8 frame so its short side is ANALYSIS_SIDE, keeping the aspect ratio.

    The long side is capped at MAX_ASPECT_RATIO times ANALYSIS_SIDE, so a 100000x1 strip (a few
    hundred bytes as a PNG) costs a 2240-pixel copy, not 5 gigapixels.
    """
    h, w = rgb.shape[:2]
    scale = min(ANALYSIS_SIDE / min(h, w), ANALYSIS_SIDE * MAX_ASPECT_RATIO / max(h, w))
    if scale == 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ _LUMA


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (OpenCV's `Laplacian(ksize=1)`) over the interior."""
    g = gray.astype(np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


# A pixel is "stained" when its green is this fraction below the mean of its red and blue. Chosen
# with benchmarks/quality_thresholds.py: above the pale background and grey-lilac red cells of
# the real dataset, below the faintest pink-purple blasts in it.
STAIN_GREEN_DEFICIT = 0.20


def stained_fraction(rgb: np.ndarray) -> float:
    """Fraction of pixels with the Romanowsky (Giemsa/Wright) purple of stained white cells.

    Stained nuclei and cytoplasm absorb green: their green is well below the mean of red and
    blue, while bare glass is nearly grey. A ratio, not a difference, so that a dimmer lamp does
    not make cells vanish; near-black pixels are left out (their ratio is noise).
    """
    pixels = rgb.astype(np.float32)
    red_blue = (pixels[..., 0] + pixels[..., 2]) / 2.0
    deficit = (red_blue - pixels[..., 1]) / np.maximum(red_blue, 1.0)
    return float(np.mean((deficit > STAIN_GREEN_DEFICIT) & (red_blue >= 20.0)))


def at_reference_scale(rgb: np.ndarray, um_per_px: float) -> tuple[np.ndarray, float]:
    """The frame resampled by area averaging to REFERENCE_UM_PER_PX (never upsampled), and its scale.

    Its long side is capped as analysis_copy caps it, so a strip costs little whatever it claims.
    """
    resampled = to_scale(rgb, um_per_px, REFERENCE_UM_PER_PX)
    small, scale = resampled.rgb, resampled.um_per_px
    h, w = small.shape[:2]
    cap = ANALYSIS_SIDE * MAX_ASPECT_RATIO * 4
    if max(h, w) > cap:
        shrink = cap / max(h, w)
        small = np.asarray(Image.fromarray(small).resize(
            (max(1, round(w * shrink)), max(1, round(h * shrink))), Image.Resampling.BOX
        ))  # fmt: skip
        scale = scale / shrink
    return centre_within(small, MAX_QUALITY_PIXELS), scale


# What quality is measured on at most at the reference scale (2048x2048): its float copies take about
# 25 bytes a pixel, so a 16-Mpixel field measured whole took over 400 MB (docs/reliability.md). A larger
# field is measured on its centre, at the same scale, so focus still means what it means elsewhere.
MAX_QUALITY_PIXELS = 2048 * 2048


def measure(rgb: np.ndarray, um_per_px: float | None = None) -> QualityMetrics:
    """All quality metrics of an (H, W, 3) uint8 RGB frame, at the reference scale when its scale is known."""
    if um_per_px is None:
        small, scale = analysis_copy(rgb), None
    else:
        small, scale = at_reference_scale(rgb, um_per_px)
    gray = luma(small)
    glass = float(np.percentile(gray, GLASS_PERCENTILE)) if gray.size else 0.0
    # At a known scale, focus is read on luma relative to the glass (as if the lamp gave 255 through
    # bare glass), so a dimmer lamp, which lowers every edge's step, does not read as blur.
    relative = gray if scale is None else gray * (255.0 / max(glass, 1.0))
    return QualityMetrics(
        brightness=float(gray.mean()),
        contrast=float(gray.std()),
        clipped=float(np.mean((gray < 2.0) | (gray > 253.0))),
        stained=stained_fraction(small),
        focus=laplacian_variance(relative),
        glass=glass,
        um_per_px=scale,
    )


def judge(metrics: QualityMetrics, limits: QualityThresholds) -> str | None:
    """The first failed check as "code: explanation", or None.

    Order matters for the message: exposure first (a black frame is also "blurred"), then blank
    glass (no edges either), then focus (blur also fades the stain), then stained cells. Each reason
    says what was measured, against which limit, and what to do. "too_dark" reads the glass (the
    lamp's level) when it was measured, so a field crowded with cells under a lamp set lower than the
    home lab's is not "too dark"; a record measured before the glass was reads its mean brightness.
    """
    m, t = metrics, limits
    at = "" if m.um_per_px is None else f" at {m.um_per_px:.2g} um/px"
    if m.glass is not None and m.glass < t.min_brightness:
        return (
            f"too_dark: the glass reads brightness {m.glass:.1f} < {t.min_brightness:g}: "
            "turn the lamp up or open the diaphragm, and take it again"
        )
    if m.glass is None and m.brightness < t.min_brightness:
        return f"too_dark: mean brightness {m.brightness:.1f} < {t.min_brightness:g}: turn the lamp up"
    if m.brightness > t.max_brightness:
        return (
            f"too_bright: mean brightness {m.brightness:.1f} > {t.max_brightness:g}: "
            "turn the lamp down or shorten the exposure, and take it again"
        )
    if m.clipped > t.max_clipped:
        return (
            f"clipped: {m.clipped:.1%} of pixels clipped > {t.max_clipped:.0%}: "
            "set the exposure and take it again"
        )
    if m.contrast < t.min_contrast:
        return f"empty_field: contrast {m.contrast:.1f} < {t.min_contrast:g}: move to a field with cells"
    if m.focus < t.min_focus:
        return f"out_of_focus: focus {m.focus:.1f} < {t.min_focus:g}{at}: refocus and take it again"
    if m.stained < t.min_stained:
        return (
            f"no_stained_cells: stained area {m.stained:.2%} < {t.min_stained:.2%}: "
            "check the stain, or move to a field with stained cells"
        )
    return None


def odd_shape(rgb: np.ndarray) -> str | None:
    """`odd_shape: ...` for a frame too narrow to be a field of view, or None."""
    h, w = rgb.shape[:2]
    if max(h, w) > MAX_ASPECT_RATIO * min(h, w):
        return f"odd_shape: {w}x{h} pixels is not a field of view (one side > {MAX_ASPECT_RATIO:g}x other)"
    return None


def assess(rgb: np.ndarray, limits: QualityThresholds, um_per_px: float | None = None) -> QualityReport:
    """Measure a frame (in bounded time and memory, whatever its size) and judge it; at the reference
    scale when `um_per_px`, the frame's own scale, is known."""
    metrics = measure(rgb, um_per_px)
    return QualityReport(metrics=metrics, reason=odd_shape(rgb) or judge(metrics, limits))
