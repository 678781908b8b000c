"""USB microscope cameras and video files, through OpenCV (imported only when one is opened)."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from edge_all.capture.sources import EndOfSource, Frame, FrameSource, SourceUnavailable, bgr_to_rgb
from edge_all.extras import import_extra

# A damaged video: this many undecodable frames in a row (about a second) end it, as a cut-short
# file would; without a frame count in the container, this many frames are tried past a failure.
MAX_DAMAGED_IN_A_ROW = 25
LOOK_AHEAD = 5


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
    """Every frame of a video file, in order; after a lost file comes back it resumes in place.

    A frame that cannot be decoded (a damaged file) is handed out as an error frame, recorded like
    any unreadable input, and reading goes on after it where the container allows (OpenCV's
    demuxer resynchronises on the next good frame). Only MAX_DAMAGED_IN_A_ROW failures in a row
    (a truncated file), or the container's frame count, end the video.
    """

    def __init__(self, spec: str, path: Path) -> None:
        super().__init__(spec)
        self.path = path
        self._capture: Any = None
        self._next = 0
        self._damaged_in_a_row = 0
        self._ahead: deque[Frame] = deque()  # frames read while looking past damage

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
        if self._ahead:
            return self._ahead.popleft()
        if self._capture is None:
            raise SourceUnavailable(f"video {self.path}: not open")
        ok, frame = self._capture.read()
        if ok and frame is not None:
            return self._frame(bgr_to_rgb(frame))
        total = int(self._capture.get(_cv2(self.spec).CAP_PROP_FRAME_COUNT) or 0)
        if total > 0:  # the container says how long it is: a failure before its end is damage
            if self._next >= total:
                raise EndOfSource(f"video {self.path}: end after {self._next} frames")
            return self._damaged()
        # No frame count (some containers): look a few frames ahead before calling it the end.
        for attempt in range(1, LOOK_AHEAD + 1):
            ok, frame = self._capture.read()
            if ok and frame is not None:
                damaged = [self._damaged() for _ in range(attempt)]
                self._ahead.extend([*damaged[1:], self._frame(bgr_to_rgb(frame))])
                return damaged[0]
        raise EndOfSource(f"video {self.path}: end after {self._next} frames")

    def _frame(self, rgb: Any) -> Frame:
        index, self._next = self._next, self._next + 1
        self._damaged_in_a_row = 0
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=rgb)

    def _damaged(self) -> Frame:
        if self._damaged_in_a_row >= MAX_DAMAGED_IN_A_ROW:
            raise EndOfSource(
                f"video {self.path}: stopped at frame {self._next}: the last {self._damaged_in_a_row} "
                "frames could not be decoded (the file is damaged or was cut short)"
            )
        index, self._next = self._next, self._next + 1
        self._damaged_in_a_row += 1
        error = f"video {self.path}: frame {index} is damaged and could not be decoded; skipped"
        return Frame(index=index, origin=f"{self.spec}#{index}", error=error)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
