"""The frame sizes a V4L2 camera offers (VIDIOC_ENUM_FRAMESIZES), which OpenCV cannot list.

Standard library only (fcntl/ioctl on Linux). Anything that is not a V4L2 device, or any other OS,
offers nothing here, and the camera keeps the size its driver chooses. No V4L2 device exists where
edge-all is developed (no /dev/video*, no v4l2loopback), so the ioctl itself is untested there;
tests check the request number against the kernel header's value and the non-V4L2 paths.
"""

from __future__ import annotations

import os
import struct

Size = tuple[int, int]

# struct v4l2_frmsizeenum (linux/videodev2.h): index, pixel_format, type, a union of
# {width, height} (discrete) or {min_width, max_width, step_width, min_height, max_height,
# step_height} (stepwise/continuous), reserved[2]: 44 bytes.
FRMSIZEENUM = struct.Struct("=3I6I2I")
_IOC_READ_WRITE = 3
VIDIOC_ENUM_FRAMESIZES = (_IOC_READ_WRITE << 30) | (FRMSIZEENUM.size << 16) | (ord("V") << 8) | 74
FRMSIZE_TYPE_DISCRETE = 1


def fourcc(code: float | int) -> str:
    """OpenCV's CAP_PROP_FOURCC value as its four characters ("MJPG", "YUYV")."""
    value = int(code)
    return "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))


def device_path(device: int | str) -> str:
    """The /dev node OpenCV's V4L2 backend opens for `opencv:N`."""
    return f"/dev/video{device}" if isinstance(device, int) else device


def frame_sizes(device: str, pixel_format: int) -> list[Size]:
    """Every (width, height) `device` offers for `pixel_format`; [] when it cannot say.

    A stepwise or continuous range is given as its largest size and halvings of it (the sizes
    that keep its field of view), snapped to the range's steps.
    """
    try:
        import fcntl

        handle = os.open(device, os.O_RDWR | os.O_NONBLOCK)
    except (ImportError, OSError):
        return []
    sizes: list[Size] = []
    try:
        for index in range(256):
            buffer = bytearray(FRMSIZEENUM.pack(index, pixel_format, *([0] * 9)))
            try:
                fcntl.ioctl(handle, VIDIOC_ENUM_FRAMESIZES, buffer)
            except OSError:  # EINVAL after the last size; ENOTTY: not a V4L2 device
                break
            _, _, kind, *union, _, _ = FRMSIZEENUM.unpack(buffer)
            if kind == FRMSIZE_TYPE_DISCRETE:
                sizes.append((union[0], union[1]))
                continue
            min_w, max_w, step_w, min_h, max_h, step_h = union
            for divisor in (1, 2, 4, 8):
                width = max(min_w, max_w // divisor // max(step_w, 1) * max(step_w, 1))
                height = max(min_h, max_h // divisor // max(step_h, 1) * max(step_h, 1))
                sizes.append((width, height))
            break
    finally:
        os.close(handle)
    return sorted(set(sizes))
