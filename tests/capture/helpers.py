"""Helpers shared by the capture tests: degrade frames, write real videos and image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter


def blurred(rgb: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(sigma)))


def darkened(rgb: np.ndarray, factor: float = 0.3) -> np.ndarray:
    return (rgb.astype(np.float32) * factor).astype(np.uint8)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """A real Motion-JPEG AVI written with OpenCV (frames are RGB; OpenCV wants BGR)."""
    cv2 = pytest.importorskip("cv2")
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for rgb in frames:
        writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
    writer.release()
    return path


def save_images(folder: Path, frames: list[np.ndarray], prefix: str = "field") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rgb in enumerate(frames):
        path = folder / f"{prefix}-{i:03d}.png"
        Image.fromarray(rgb).save(path)
        paths.append(path)
    return paths
