"""Where frames come from: the interface every source implements, and its errors.

Every source hands out RGB frames, whatever its hardware delivers (OpenCV and picamera2's RGB888
are BGR in memory), so the model always gets the colour order it was trained on. This module knows
no implementation: edge_all.capture.spec maps each kind of `--camera` value to the module that builds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_all.capture.options import DEFAULT_SETTLE_FRAMES
from edge_all.errors import EdgeAllError
from edge_all.results.store import FrameCount


class SourceUnavailable(EdgeAllError):
    """The camera, video or folder cannot be opened or has gone away; the message says which and why."""


class EndOfSource(Exception):
    """A finite source (a video file) has no more frames; `frames`: how many it had and gave."""

    def __init__(self, message: str, frames: FrameCount | None = None) -> None:
        super().__init__(message)
        self.frames = frames


@dataclass(frozen=True)
class Frame:
    """One field of view: RGB pixels, or the one-line reason it could not be read."""

    index: int  # 0-based count of frames this source has handed out
    origin: str  # where it came from, for the record: "video:a.avi#12", a file path, "opencv:0#3"
    rgb: np.ndarray | None = None  # what the quality gate and the model see (FrameRequest.min_size)
    file: Path | None = None  # the image file the frame is (folder sources)
    error: str | None = None
    full: np.ndarray | None = None  # the full-resolution RGB frame, when FrameRequest.full_resolution
    # The width the source delivered before it shrank the frame to `rgb` (a scale given for the camera
    # is of those pixels); None: `rgb` is as the source delivered it.
    native_width: int | None = None

    @property
    def to_save(self) -> np.ndarray | None:
        """The pixels `--save-frames` keeps: full resolution when the source delivered it."""
        return self.full if self.full is not None else self.rgb


@dataclass(frozen=True)
class FrameRequest:
    """What the capture wants from a source: frame size, full-resolution copies, exposure lock.

    A camera is asked for the smallest size it offers that covers `min_size` (keeping its field of
    view), or exactly `capture_size`; any source shrinks larger frames once, where they arrive.
    The default asks for nothing: frames as the hardware delivers them.
    """

    min_size: tuple[int, int] | None = None  # (width, height) every frame must cover; None: any
    capture_size: tuple[int, int] | None = None  # --capture-size: ask the camera for exactly this
    full_resolution: bool = False  # --save-frames: also hand out each frame at the camera's full size
    lock_exposure: bool = True  # cameras: let exposure and white balance settle, then lock them
    settle_frames: int = DEFAULT_SETTLE_FRAMES  # cameras: at most this many frames to settle, then lock


class FrameSource(ABC):
    """A camera, video or folder. `open` then `read` until EndOfSource; `close` is always safe."""

    #: seconds between captures when --interval is not given: a live camera shows the same field
    #: many times a second, so one frame a second; files and videos are taken as fast as they come.
    default_interval: float = 0.0
    #: the folder a source reads image files from (folder sources), which frames must not be saved into
    folder: Path | None = None

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.request = FrameRequest()

    def configure(self, request: FrameRequest) -> None:
        """Say what frames the capture wants; call before `open` (sources ignore what they cannot do)."""
        self.request = request

    def settings(self) -> dict[str, Any] | None:
        """What a camera was set to after `open` (size, exposure, white balance), for the session
        record; None for files. A "warning" entry is a line the operator should see."""
        return None

    @abstractmethod
    def open(self) -> None:
        """Start the source, or raise SourceUnavailable with a one-line reason."""

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame; None when nothing new is ready yet (poll again later).

        Raises SourceUnavailable when the source has gone away (the session retries `open`) and
        EndOfSource when a finite source is exhausted.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice or before `open`."""

    def skip(self, origins: Iterable[str]) -> int:
        """Never hand out the frames recorded from these origins before (a restart); how many it skips.

        Only a source that would hand out the same files again (a folder) has anything to skip.
        """
        return 0

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def bgr_to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV and picamera2 RGB888 arrays are B, G, R(, X) in memory; the model wants R, G, B."""
    if frame.ndim == 2:
        return np.ascontiguousarray(np.repeat(frame[:, :, None], 3, axis=2))
    return np.ascontiguousarray(frame[:, :, 2::-1])
