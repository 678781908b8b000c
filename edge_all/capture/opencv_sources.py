"""USB microscope cameras and video files, through OpenCV (imported only when one is opened)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_all.capture.sources import EndOfSource, Frame, FrameSource, SourceUnavailable, bgr_to_rgb
from edge_all.extras import import_extra


def _cv2(spec: str) -> Any:
    return import_extra("cv2", "camera", f"camera source {spec}")


class OpenCVCamera(FrameSource):
    """A V4L2/UVC camera by index (`opencv:0`) or device path (`/dev/video2`)."""

    default_interval = 1.0

    def __init__(self, spec: str, device: int | str) -> None:
        super().__init__(spec)
        self.device = device
        self._capture: Any = None
        self._count = 0

    def open(self) -> None:
        cv2 = _cv2(self.spec)
        if isinstance(self.device, str) and not Path(self.device).exists():
            raise SourceUnavailable(f"camera {self.spec}: {self.device} does not exist (is it plugged in?)")
        capture = cv2.VideoCapture(self.device)
        if not capture.isOpened():
            capture.release()
            raise SourceUnavailable(f"camera {self.spec}: cannot be opened (not connected, or in use)")
        # Keep one buffered frame, so a frame taken after a pause shows the slide as it is now.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._capture = capture

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceUnavailable(f"camera {self.spec}: not open")
        self._capture.grab()  # drop a frame that may have waited in the driver's queue
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise SourceUnavailable(f"camera {self.spec}: stopped delivering frames (unplugged?)")
        index, self._count = self._count, self._count + 1
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=bgr_to_rgb(frame))

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class VideoFile(FrameSource):
    """Every frame of a video file, in order; after a lost file comes back it resumes in place."""

    def __init__(self, spec: str, path: Path) -> None:
        super().__init__(spec)
        self.path = path
        self._capture: Any = None
        self._next = 0

    def open(self) -> None:
        cv2 = _cv2(self.spec)
        if not self.path.is_file():
            raise SourceUnavailable(f"video {self.path}: no such file")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceUnavailable(f"video {self.path}: cannot be read as a video")
        if self._next:
            capture.set(cv2.CAP_PROP_POS_FRAMES, self._next)
        self._capture = capture

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceUnavailable(f"video {self.path}: not open")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise EndOfSource(f"video {self.path}: end after {self._next} frames")
        index, self._next = self._next, self._next + 1
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=bgr_to_rgb(frame))

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
