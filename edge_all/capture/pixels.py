"""Camera pixels to the frames the capture loop wants: shrunk once at the source, in RGB.

A camera, video or image file often has far more pixels than the model (224x224) and the quality
gate (a copy whose short side is 224) need. Shrinking once, where the frame arrives, spares every
later step the large frame; the model's centre crop and the gate then see the same field of view
as before, at the size they would have made themselves.

With OpenCV, the shrink is exact 2x2 box averages while the frame is at least twice the target,
then one small blur and a bilinear step of less than 2x: its result is within a few per cent of the
antialiased bilinear resize the quality gate makes itself (`quality.analysis_copy`), so the focus
threshold keeps its meaning (tests/capture/test_pixels.py measures how close), at a fraction of its
cost. Without OpenCV it is Pillow's own bilinear resize with its box-reduction fast path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image

from edge_all.capture.sources import FrameRequest, bgr_to_rgb

Size = tuple[int, int]  # (width, height), as cameras and OpenCV state sizes


def covering_size(size: Size, minimum: Size) -> Size:
    """The smallest size with the aspect ratio of `size` that is at least `minimum` both ways.

    Never larger than `size` itself: a frame is shrunk, never enlarged.
    """
    width, height = size
    scale = max(minimum[0] / width, minimum[1] / height)
    if scale >= 1.0:
        return size
    covering = (math.ceil(width * scale - 1e-9), math.ceil(height * scale - 1e-9))
    return (max(minimum[0], covering[0]), max(minimum[1], covering[1]))


def smallest_covering(offered: Iterable[Size], minimum: Size) -> Size | None:
    """The smallest offered size that covers `minimum` and has the field of view of the largest.

    The field of view is judged by the aspect ratio (within 2 %): a camera's sizes of another
    aspect are crops of its sensor. The largest size when none covers `minimum`; None when
    nothing is offered.
    """
    sizes = list(offered)
    if not sizes:
        return None
    largest = max(sizes, key=_area)
    aspect = largest[0] / largest[1]
    same_view = [s for s in sizes if abs(s[0] / s[1] - aspect) <= 0.02 * aspect]
    covering = [s for s in same_view if s[0] >= minimum[0] and s[1] >= minimum[1]]
    return min(covering, key=_area) if covering else largest


def _area(size: Size) -> int:
    return size[0] * size[1]


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def shrink(image: np.ndarray, minimum: Size | None) -> np.ndarray:
    """Shrink an (H, W, C) uint8 frame to the smallest size covering `minimum`, keeping its aspect.

    Channel order is kept (BGR stays BGR), so sources shrink before they convert colour. A frame
    that already fits is returned as it is.
    """
    if minimum is None:
        return image
    height, width = image.shape[:2]
    target = covering_size((width, height), minimum)
    if target == (width, height):
        return image
    cv2 = _cv2()
    if cv2 is None:  # a device without OpenCV (picamera2, folders): Pillow's box reduction, then bilinear
        resized = Image.fromarray(image).resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(resized)
    halved = False
    while width >= 2 * target[0] and height >= 2 * target[1]:
        # Exactly half size: the mean of each 2x2 block, OpenCV's fast integer-area path.
        width, height, halved = width // 2, height // 2, True
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if (width, height) != target:
        # The last step shrinks by a ratio r < 2. Bilinear sampling alone would alias (sensor noise
        # would read as "sharp"), so a 3-tap blur first adds about the variance an antialiased
        # bilinear kernel of ratio r has beyond what interpolation averages; its strength was
        # matched to quality.analysis_copy on noisy frames (tests/capture/test_pixels.py).
        divisor = BLUR_DIVISOR_HALVED if halved else BLUR_DIVISOR_RAW
        kx, ky = _blur_taps(width / target[0], divisor), _blur_taps(height / target[1], divisor)
        if kx[0] > 0.005 or ky[0] > 0.005:
            image = cv2.sepFilter2D(image, -1, kx, ky, borderType=cv2.BORDER_REFLECT_101)
        image = cv2.resize(image, target, interpolation=cv2.INTER_LINEAR)
    return image


# The blur before the last bilinear step is [a, 1 - 2a, a] with a = (r^2 - 1) / divisor: on a
# box-averaged frame a variance of (r^2 - 1) / 6 (the variance of a bilinear kernel of ratio r
# less that of plain interpolation); on a raw sensor frame, whose noise is not yet averaged, more.
BLUR_DIVISOR_HALVED = 12.0
BLUR_DIVISOR_RAW = 8.0


def _blur_taps(ratio: float, divisor: float) -> np.ndarray:
    a = max(0.0, ratio * ratio - 1.0) / divisor
    return np.array([a, 1.0 - 2.0 * a, a], np.float32)


def from_bgr(bgr: np.ndarray, request: FrameRequest) -> tuple[np.ndarray, np.ndarray | None]:
    """The (rgb, full) pixels of a Frame from an OpenCV BGR(A) frame: shrunk first, then RGB."""
    small = shrink(bgr, request.min_size)
    rgb = _to_rgb(small)
    if not request.full_resolution:
        return rgb, None
    return rgb, (rgb if small is bgr else _to_rgb(bgr))


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    """sources.bgr_to_rgb, through OpenCV's colour conversion when it is there (several times faster)."""
    cv2 = _cv2()
    if cv2 is None or bgr.ndim != 3 or bgr.shape[2] not in (3, 4):
        return bgr_to_rgb(bgr)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB if bgr.shape[2] == 3 else cv2.COLOR_BGRA2RGB)


# ---- YUV 4:2:0 ---------------------------------------------------------------------------------
# (Kr, Kb) of the Y'CbCr matrices a libcamera stream may use.
YCBCR_MATRICES = {"rec601": (0.299, 0.114), "rec709": (0.2126, 0.0722), "rec2020": (0.2627, 0.0593)}


def yuv420_to_rgb(
    planar: np.ndarray, size: Size, matrix: str = "rec601", full_range: bool = True, vu: bool = False
) -> np.ndarray:
    """A planar Y'CbCr 4:2:0 image (I420; `vu`: YV12) to (H, W, 3) uint8 RGB.

    `planar` is laid out as picamera2 hands out a YUV420 stream: (height * 3 / 2, stride) bytes,
    `height` rows of Y, then the U plane and the V plane, each (height / 2) x (stride / 2) bytes; the
    stride may exceed the width (padding, cut off here). Chroma is computed once per 2x2 block and
    broadcast onto its four pixels, without materialising upsampled planes.
    """
    width, height = size
    if width % 2 or height % 2:
        raise ValueError(f"YUV420 needs an even width and height, got {width}x{height}")
    buffer = np.ascontiguousarray(planar).reshape(-1)
    stride = buffer.size * 2 // (height * 3)
    if stride < width or stride * height * 3 != buffer.size * 2:
        raise ValueError(f"a {planar.shape} array is not a {width}x{height} YUV420 image")
    luma_plane = buffer[: stride * height].reshape(height, stride)[:, :width]
    chroma_size = (height // 2) * (stride // 2)
    first = buffer[stride * height : stride * height + chroma_size].reshape(height // 2, stride // 2)
    second = buffer[stride * height + chroma_size :].reshape(height // 2, stride // 2)
    u, v = (second, first) if vu else (first, second)
    u = u[:, : width // 2].astype(np.float32) - 128.0
    v = v[:, : width // 2].astype(np.float32) - 128.0
    y = luma_plane.astype(np.float32)
    if not full_range:  # video range: Y' 16-235, Cb/Cr 16-240
        y = (y - 16.0) * (255.0 / 219.0)
        u *= 255.0 / 224.0
        v *= 255.0 / 224.0
    kr, kb = YCBCR_MATRICES[matrix]
    kg = 1.0 - kr - kb
    chroma = np.empty((height // 2, width // 2, 3), np.float32)
    chroma[..., 0] = 2.0 * (1.0 - kr) * v
    chroma[..., 1] = -(2.0 * kb * (1.0 - kb) / kg) * u - (2.0 * kr * (1.0 - kr) / kg) * v
    chroma[..., 2] = 2.0 * (1.0 - kb) * u
    rgb = y.reshape(height // 2, 2, width // 2, 2, 1) + chroma[:, None, :, None, :]
    np.rint(rgb, out=rgb)
    np.clip(rgb, 0.0, 255.0, out=rgb)
    return rgb.astype(np.uint8).reshape(height, width, 3)
