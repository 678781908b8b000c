"""What the model looked at: class activation maps (CAM) from the last feature map, and overlays.

For a model that pools its last feature map (global average pooling) and then applies one dense
layer, the logit of a class is the average over positions of `feature_map @ weights[:, class]`; that
map, before averaging, shows which parts of the image raised the class (Zhou et al., 2016). It costs
one small matrix product in numpy. The map lines up with the model's input pixels: the prepared,
centre-cropped image (edge_all.runtime.images.prepare), which is also what overlays are drawn on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edge_all.safe_write import replacing

# A perceptually ordered dark-to-bright palette (black, purple, red, orange, pale yellow), interpolated.
_ANCHORS = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)
PALETTE = np.stack(
    [np.interp(np.linspace(0, 4, 256), np.arange(5), _ANCHORS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)


@dataclass(frozen=True)
class HeatmapWeights:
    """The dense layer from pooled features to class scores: (D, C) weights and (C,) bias."""

    weights: np.ndarray
    bias: np.ndarray

    def save(self, path: str | Path) -> None:
        with replacing(path, "the heat-map weights", text=False) as handle:
            np.savez(handle, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32))

    @classmethod
    def load(cls, path: str | Path) -> HeatmapWeights:
        with np.load(path, allow_pickle=False) as data:
            weights, bias = data["weights"].astype(np.float32), data["bias"].astype(np.float32)
        if weights.ndim != 2 or bias.shape != (weights.shape[1],):
            raise ValueError(f"{path}: inconsistent heat-map weights")
        return cls(weights, bias)


def class_activation_map(feature_map: np.ndarray, weights: HeatmapWeights, class_index: int) -> np.ndarray:
    """(h, w) map in [0, 1] of where `feature_map` (h, w, D) raised the class's score (0: lowered it)."""
    cam = np.maximum(feature_map.astype(np.float32) @ weights.weights[:, class_index], 0.0)
    high = float(cam.max())
    return cam / high if high > 0 else cam


def overlay(rgb: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heat map, scaled to the picture (bilinear) and coloured, blended over (H, W, 3) uint8 pixels."""
    height, width = rgb.shape[:2]
    levels = Image.fromarray(np.clip(heatmap * 255.0, 0, 255).astype(np.uint8))
    scaled = np.asarray(levels.resize((width, height), Image.Resampling.BILINEAR))
    colours = PALETTE[scaled].astype(np.float32)
    return np.clip((1 - alpha) * rgb.astype(np.float32) + alpha * colours, 0, 255).astype(np.uint8)
