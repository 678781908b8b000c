"""Histogram thresholds: Otsu's two-class and three-class cuts, shared by the scale estimate and the
white-cell finder (glass, red cells and nuclei are three levels of optical density)."""

from __future__ import annotations

import numpy as np


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a sample: the cut that best separates it into two classes."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return 0.0
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2.0
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][int(np.argmax(between))])


def otsu3(values: np.ndarray, bins: int = 96) -> tuple[float, float]:
    """The two cuts that best separate a sample into three classes (multi-level Otsu), low first."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return 0.0, 0.0
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo, lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2.0
    w = np.concatenate([[0], np.cumsum(hist)]).astype(np.float64)
    m = np.concatenate([[0], np.cumsum(hist * centres)])
    total_w, total_m = w[-1], m[-1]
    i, j = np.meshgrid(np.arange(1, bins), np.arange(1, bins), indexing="ij")
    w0, m0 = w[i], m[i]
    w1, m1 = w[j] - w[i], m[j] - m[i]
    w2, m2 = total_w - w[j], total_m - m[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = m0**2 / w0 + m1**2 / w1 + m2**2 / w2
    score = np.where((j > i) & (w0 > 0) & (w1 > 0) & (w2 > 0), score, -np.inf)
    a, b = np.unravel_index(int(np.argmax(score)), score.shape)
    return float(edges[i[a, b]]), float(edges[j[a, b]])
