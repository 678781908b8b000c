"""RGB to planar YUV 4:2:0 bytes, laid out as picamera2 hands a YUV420 stream out (for the tests)."""

from __future__ import annotations

import numpy as np

YCBCR = {"rec601": (0.299, 0.114), "rec709": (0.2126, 0.0722)}


def encode_yuv420(
    rgb: np.ndarray, stride: int, matrix: str, full_range: bool, vu: bool = False
) -> np.ndarray:
    """RGB to planar Y'CbCr 4:2:0 as a (H * 3 / 2, stride) uint8 array, the layout picamera2 returns."""
    height, width = rgb.shape[:2]
    kr, kb = YCBCR[matrix]
    kg = 1.0 - kr - kb
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = kr * r + kg * g + kb * b
    u = (b - y) / (2.0 * (1.0 - kb))
    v = (r - y) / (2.0 * (1.0 - kr))
    if full_range:
        y_code, u_code, v_code = y, u + 128.0, v + 128.0
    else:
        y_code, u_code, v_code = (
            16.0 + y * 219.0 / 255.0,
            128.0 + u * 224.0 / 255.0,
            128.0 + v * 224.0 / 255.0,
        )

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    def code(plane: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(plane), 0, 255).astype(np.uint8)

    out = np.zeros(stride * height * 3 // 2, np.uint8)
    out[: stride * height].reshape(height, stride)[:, :width] = code(y_code)
    chroma = (height // 2) * (stride // 2)
    first, second = (v_code, u_code) if vu else (u_code, v_code)
    for offset, plane in ((stride * height, first), (stride * height + chroma, second)):
        out[offset : offset + chroma].reshape(height // 2, stride // 2)[:, : width // 2] = code(half(plane))
    return out.reshape(height * 3 // 2, stride)
