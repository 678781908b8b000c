"""USB microscope cameras and video files, through OpenCV (imported only when one is opened).

A camera is asked for the smallest size it offers that covers the model input (`--capture-size`
overrides it), the size its driver really set is read back, and any frame larger than needed is
shrunk once, here. OpenCV gives one stream per camera, so with `--save-frames` the camera runs at
its largest size and each frame is shrunk once for the model. Exposure and white balance are
locked through the V4L2 backend, where the camera allows it (docs/capture.md).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from edge_all.capture import v4l2
from edge_all.capture.pixels import from_bgr, smallest_covering
from edge_all.capture.sources import EndOfSource, Frame, FrameSource, SourceUnavailable
from edge_all.extras import import_extra
from edge_all.results.store import FrameCount

# OpenCV passes CAP_PROP_AUTO_EXPOSURE through to V4L2 as the raw menu value of
# V4L2_CID_EXPOSURE_AUTO (1: manual, 3: aperture priority, i.e. automatic); other backends use
# other conventions (DirectShow: 0.25 / 0.75), so edge-all locks exposure through V4L2 only.
V4L2_EXPOSURE_MANUAL = 1
# What the session records of a camera's exposure, by OpenCV property.
EXPOSURE_PROPERTIES = {
    "auto_exposure": "CAP_PROP_AUTO_EXPOSURE",
    "exposure": "CAP_PROP_EXPOSURE",
    "gain": "CAP_PROP_GAIN",
    "auto_white_balance": "CAP_PROP_AUTO_WB",
    "white_balance_temperature": "CAP_PROP_WB_TEMPERATURE",
}
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
        self._locked: dict[str, float] | None = None  # this slide's exposure, re-applied on reconnect
        self._settings: dict[str, Any] | None = None

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
        try:
            size, lock = self._set_size(cv2, capture), self._settle_and_lock(cv2, capture)
        except cv2.error as exc:
            capture.release()
            raise SourceUnavailable(
                f"camera {self.spec}: cannot be set up ({' '.join(str(exc).split())})"
            ) from None
        warnings = [text for text in (size.pop("warning", None), lock.pop("warning", None)) if text]
        self._settings = {"camera": "opencv", "backend": capture.getBackendName(), **size, **lock}
        if warnings:
            self._settings["warning"] = "; ".join(warnings)
        self._capture = capture

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceUnavailable(f"camera {self.spec}: not open")
        self._capture.grab()  # drop a frame that may have waited in the driver's queue
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise SourceUnavailable(f"camera {self.spec}: stopped delivering frames (unplugged?)")
        index, self._count = self._count, self._count + 1
        rgb, full = from_bgr(frame, self.request)
        width = frame.shape[1]
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=rgb, full=full, native_width=width)

    def settings(self) -> dict[str, Any] | None:
        return self._settings

    def _set_size(self, cv2: Any, capture: Any) -> dict[str, Any]:
        """Ask for the size the capture needs; report what the driver really set."""
        request = self.request
        offered = v4l2.frame_sizes(v4l2.device_path(self.device), int(capture.get(cv2.CAP_PROP_FOURCC)))
        wanted = request.capture_size
        if wanted is None and offered:
            if request.full_resolution:
                wanted = max(offered, key=lambda size: size[0] * size[1])
            elif request.min_size is not None:
                wanted = smallest_covering(offered, request.min_size)
        if wanted is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, wanted[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, wanted[1])
        size = [int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))]
        facts: dict[str, Any] = {
            "size": size,
            "asked_size": list(wanted) if wanted else None,
            "offered_sizes": [list(s) for s in offered],
            "pixel_format": v4l2.fourcc(capture.get(cv2.CAP_PROP_FOURCC)),
        }
        if request.capture_size is not None and tuple(size) != tuple(request.capture_size):
            w, h = request.capture_size
            facts["warning"] = f"camera {self.spec}: asked for {w}x{h}, the driver set {size[0]}x{size[1]}"
        return facts

    def _settle_and_lock(self, cv2: Any, capture: Any) -> dict[str, Any]:
        """Let auto exposure and white balance run for a while, then switch them to manual (V4L2)."""
        if not self.request.lock_exposure:
            return {"locked": False, "exposure": "automatic (--no-lock-exposure)"}
        backend = capture.getBackendName()
        if backend != "V4L2":
            return {
                "locked": False,
                "warning": f"camera {self.spec}: exposure and white balance left automatic (the {backend} "
                "backend; edge-all locks them through V4L2 only)",
            }
        if self._locked is None:
            for _ in range(max(0, self.request.settle_frames)):
                capture.grab()
            # A UVC camera keeps the values its automatic mode reached when it is switched to manual.
            capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_MANUAL)
            capture.set(cv2.CAP_PROP_AUTO_WB, 0)
        else:  # the camera came back: the values the rest of this slide was taken with
            capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_MANUAL)
            capture.set(cv2.CAP_PROP_AUTO_WB, 0)
            for name in ("exposure", "gain", "white_balance_temperature"):
                capture.set(getattr(cv2, EXPOSURE_PROPERTIES[name]), self._locked[name])
        values = {name: capture.get(getattr(cv2, prop)) for name, prop in EXPOSURE_PROPERTIES.items()}
        exposure_locked = values["auto_exposure"] == V4L2_EXPOSURE_MANUAL
        white_balance_locked = values["auto_white_balance"] == 0
        if self._locked is None and exposure_locked:
            self._locked = values
        facts: dict[str, Any] = {
            "locked": exposure_locked and white_balance_locked,
            "exposure_locked": exposure_locked,
            "white_balance_locked": white_balance_locked,
            "settle_frames": self.request.settle_frames,
            "controls": values,
        }
        if not exposure_locked or not white_balance_locked:
            which = " and ".join(
                name
                for name, ok in (("exposure", exposure_locked), ("white balance", white_balance_locked))
                if not ok
            )
            facts["warning"] = (
                f"camera {self.spec}: {which} could not be locked (the camera refused manual mode)"
            )
        return facts

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
        self._decoded = 0  # frames that could be decoded, against the container's count at the end
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
            return self._frame(frame)
        total = int(self._capture.get(_cv2(self.spec).CAP_PROP_FRAME_COUNT) or 0)
        if total > 0:  # the container says how long it is: a failure before its end is damage
            if self._next >= total:
                raise self._end(f"video {self.path}: end after {self._next} frames", total)
            return self._damaged(total)
        # No frame count (some containers): look a few frames ahead before calling it the end.
        for attempt in range(1, LOOK_AHEAD + 1):
            ok, frame = self._capture.read()
            if ok and frame is not None:
                damaged = [self._damaged() for _ in range(attempt)]
                self._ahead.extend([*damaged[1:], self._frame(frame)])
                return damaged[0]
        raise self._end(f"video {self.path}: end after {self._next} frames", None)

    def _end(self, message: str, total: int | None) -> EndOfSource:
        """The end, with how many frames were expected and decoded (fewer: it ended early)."""
        frames = FrameCount(total, self._decoded)
        if frames.ended_early:
            message = f"video {self.path}: {frames.describe()}"
        return EndOfSource(message, frames)

    def _frame(self, frame: Any) -> Frame:
        index, self._next = self._next, self._next + 1
        self._damaged_in_a_row = 0
        self._decoded += 1
        rgb, full = from_bgr(frame, self.request)  # an HD video is shrunk here, once
        width = frame.shape[1]
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=rgb, full=full, native_width=width)

    def _damaged(self, total: int | None = None) -> Frame:
        if self._damaged_in_a_row >= MAX_DAMAGED_IN_A_ROW:
            frames = FrameCount(total, self._decoded)
            raise EndOfSource(
                f"video {self.path}: stopped at frame {self._next}: the last {self._damaged_in_a_row} "
                f"frames could not be decoded; {frames.describe()}",
                frames,
            )
        index, self._next = self._next, self._next + 1
        self._damaged_in_a_row += 1
        error = f"video {self.path}: frame {index} is damaged and could not be decoded; skipped"
        return Frame(index=index, origin=f"{self.spec}#{index}", error=error)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
