"""The Raspberry Pi camera through picamera2 (imported only here, only when this source opens).

Written from the picamera2 manual (https://datasheets.raspberrypi.com/camera/picamera2-manual.pdf)
and picamera2's source; no Pi camera exists where edge-all is developed, so the tests drive it with
a stand-in written from the same manual (tests/capture/picamera2_standin.py).

- **Size**: the ISP scales the whole sensor image to the stream size, so the camera delivers a
  frame just covering the model input (`FrameRequest.min_size`) from the smallest sensor mode that
  keeps the full field of view. With `--save-frames` the main stream is the full sensor size and
  the model reads the low-resolution ("lores") stream of the same frame: YUV420 on a Pi 4 (VC4
  ISP, where lores must be YUV), RGB on a Pi 5 (PiSP). Each frame is converted by the format the
  configured stream reports.
- **Colour**: picamera2 names formats after libcamera/DRM, which count from the most significant
  byte: "RGB888" is [B, G, R] in memory, "XRGB8888" [B, G, R, 255], "BGR888" [R, G, B] and
  "XBGR8888" [R, G, B, 255]. YUV420 is converted with the matrix and range of the stream's colour
  space (sYCC, full-range BT.601, for still configurations; SMPTE 170M or Rec.709, video range,
  for video configurations).
- **Exposure**: automatic exposure and white balance run until ExposureTime, AnalogueGain and
  ColourGains stop changing (or `settle_frames` frames), then are switched off with those values,
  so every field of a slide is exposed alike. A reconnect re-applies the same values.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from edge_all.capture.pixels import Size, shrink, yuv420_to_rgb
from edge_all.capture.sources import Frame, FrameSource, SourceUnavailable, bgr_to_rgb

# Bytes per pixel order in memory, by picamera2 format name (see the module docstring).
BGR_FORMATS = ("RGB888", "XRGB8888")
RGB_FORMATS = ("BGR888", "XBGR8888")
YUV_FORMATS = {"YUV420": False, "YVU420": True}  # format -> V plane first
# Settled: these metadata values moved by less than STABLE_CHANGE over STABLE_FRAMES frames in a row.
SETTLE_KEYS = ("ExposureTime", "AnalogueGain", "ColourGains")
STABLE_CHANGE = 0.02
STABLE_FRAMES = 5
# What the session records of the settled metadata (picamera2's own names, usable in set_controls).
RECORDED_KEYS = ("ExposureTime", "AnalogueGain", "DigitalGain", "ColourGains", "ColourTemperature", "Lux")


def to_rgb(array: np.ndarray, stream: dict[str, Any], colour_space: Any = None) -> np.ndarray:
    """One picamera2 stream's array (capture_array / make_array) to (H, W, 3) RGB."""
    fmt = stream["format"]
    if fmt in BGR_FORMATS:
        return bgr_to_rgb(array)
    if fmt in RGB_FORMATS:
        return np.ascontiguousarray(array[:, :, :3])
    if fmt in YUV_FORMATS:
        matrix, full_range = ycbcr_encoding(colour_space)
        return yuv420_to_rgb(array, tuple(stream["size"]), matrix, full_range, vu=YUV_FORMATS[fmt])
    raise ValueError(f"picamera2 stream format {fmt} is not one edge-all converts")


def ycbcr_encoding(colour_space: Any) -> tuple[str, bool]:
    """(matrix, full range) of a libcamera ColorSpace; unknown or absent: sYCC (BT.601, full range)."""
    encoding, value_range = getattr(colour_space, "ycbcrEncoding", None), getattr(colour_space, "range", None)
    if encoding is not None and value_range is not None:
        name = str(getattr(encoding, "name", encoding))
        matrix = "rec709" if "709" in name else "rec2020" if "2020" in name else "rec601"
        return matrix, "full" in str(getattr(value_range, "name", value_range)).lower()
    text = str(colour_space).lower()
    if "709" in text:
        return "rec709", False
    if "170" in text:
        return "rec601", False
    return "rec601", True


def stream_size(sensor: Size, minimum: Size | None, align: int) -> Size:
    """The smallest (width, height) with the sensor's aspect ratio covering `minimum`, width a
    multiple of `align` (picamera2 rounds stream widths down to one) and height even."""
    if minimum is None:
        return sensor
    aspect = sensor[0] / sensor[1]
    width = max(minimum[0], math.ceil(minimum[1] * aspect))
    while True:
        width = math.ceil(width / align) * align
        height = round(width / aspect / 2) * 2
        if height >= minimum[1] or width >= sensor[0]:
            return (min(width, sensor[0]), min(height, sensor[1]))
        width += align


def full_view_mode(modes: list[dict[str, Any]], size: Size) -> dict[str, Any] | None:
    """The smallest sensor mode covering `size` that reads the whole sensor (no crop)."""
    known = [mode for mode in modes if "crop_limits" in mode and "size" in mode]
    if not known:
        return None
    whole = max(mode["crop_limits"][2] * mode["crop_limits"][3] for mode in known)
    full_view = [
        mode
        for mode in known
        if mode["crop_limits"][2] * mode["crop_limits"][3] >= 0.98 * whole
        and mode["size"][0] >= size[0]
        and mode["size"][1] >= size[1]
    ]
    return min(full_view, key=lambda mode: mode["size"][0] * mode["size"][1], default=None)


class PiCamera(FrameSource):
    default_interval = 1.0

    def __init__(self, spec: str, index: int = 0) -> None:
        super().__init__(spec)
        self.index = index
        self._camera: Any = None
        self._count = 0
        self._model_stream = "main"  # the stream the quality gate and the model read
        self._full_stream: str | None = None  # the stream saved frames come from (--save-frames)
        self._config: dict[str, Any] = {}  # the configuration picamera2 reports after configure()
        self._modes: list[dict[str, Any]] | None = None  # sensor modes (slow to list; once)
        self._locked: dict[str, Any] | None = None  # the controls this slide is locked to
        self._settle_facts: dict[str, Any] = {}  # how the lock was reached, for the session record
        self._settings: dict[str, Any] | None = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise SourceUnavailable(
                "picamera2 is not installed (on Raspberry Pi OS: sudo apt install python3-picamera2)"
            ) from None
        try:
            camera = Picamera2(self.index)
        except Exception as exc:  # picamera2 raises IndexError/RuntimeError when no camera is attached
            raise SourceUnavailable(f"camera {self.spec}: no Raspberry Pi camera found ({exc})") from None
        try:
            camera.configure(self._configuration(Picamera2, camera))
            self._config = camera.camera_configuration()
            camera.start()
            self._settings = self._settle_and_lock(camera)
        except Exception as exc:
            with contextlib.suppress(Exception):
                camera.close()
            raise SourceUnavailable(f"camera {self.spec}: cannot be started ({_one_line(exc)})") from None
        self._camera = camera

    def read(self) -> Frame | None:
        if self._camera is None:
            raise SourceUnavailable(f"camera {self.spec}: not open")
        try:
            if self._full_stream is None:
                arrays = {self._model_stream: self._camera.capture_array(self._model_stream)}
            else:  # both streams of one and the same frame
                request = self._camera.capture_request()
                try:
                    names = (self._model_stream, self._full_stream)
                    arrays = {name: request.make_array(name) for name in names}
                finally:
                    request.release()
        except Exception as exc:
            raise SourceUnavailable(f"camera {self.spec}: capture failed ({_one_line(exc)})") from None
        colour_space = self._config.get("colour_space")
        rgb = shrink(
            to_rgb(arrays[self._model_stream], self._config[self._model_stream], colour_space),
            self.request.min_size,
        )
        full = None
        if self._full_stream is not None:
            full = to_rgb(arrays[self._full_stream], self._config[self._full_stream], colour_space)
        index, self._count = self._count, self._count + 1
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=rgb, full=full)

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
            finally:
                self._camera.close()
                self._camera = None

    def settings(self) -> dict[str, Any] | None:
        return self._settings

    # ---- configuration ---------------------------------------------------------------------
    def _configuration(self, picamera2: Any, camera: Any) -> dict[str, Any]:
        """Main stream at the model's size; or, to save frames, main at full size and lores for the model."""
        sensor = tuple(camera.sensor_resolution)
        request = self.request
        if not request.full_resolution:
            size = request.capture_size or stream_size(sensor, request.min_size, align=32)
            self._model_stream, self._full_stream = "main", None
            return camera.create_video_configuration(
                main={"format": "RGB888", "size": size}, **self._sensor_mode(camera, size)
            )
        # On a Pi 4 (VC4) the lores stream must be YUV; a Pi 5 (PiSP) also gives it in RGB.
        platform = getattr(getattr(picamera2, "platform", None), "name", "VC4")
        lores_format = "RGB888" if platform == "PISP" else "YUV420"
        size = request.capture_size or stream_size(sensor, request.min_size, align=64)
        self._model_stream, self._full_stream = "lores", "main"
        return camera.create_still_configuration(
            main={"format": "RGB888", "size": sensor},
            lores={"format": lores_format, "size": size},
            buffer_count=2,
            **self._sensor_mode(camera, sensor),
        )

    def _sensor_mode(self, camera: Any, size: Size) -> dict[str, Any]:
        """`sensor=` for the smallest full-view mode, so a small stream does not crop the field."""
        if self._modes is None:
            try:
                self._modes = list(camera.sensor_modes)
            except Exception:  # an older picamera2, or a camera that cannot list them
                self._modes = []
        mode = full_view_mode(self._modes, size)
        if mode is None:
            return {}
        return {"sensor": {"output_size": tuple(mode["size"]), "bit_depth": mode["bit_depth"]}}

    # ---- exposure and white balance ---------------------------------------------------------
    def _settle_and_lock(self, camera: Any) -> dict[str, Any]:
        """Let AE/AWB settle, lock them (or re-apply this slide's lock), and describe the result."""
        settings: dict[str, Any] = {
            "camera": "picamera2",
            "index": self.index,
            "stream": self._stream_facts(self._model_stream),
            "full_stream": self._stream_facts(self._full_stream) if self._full_stream else None,
        }
        if not self.request.lock_exposure:
            return {**settings, "locked": False, "exposure": "automatic (--no-lock-exposure)"}
        if self._locked is not None:  # the camera came back: the same exposure as the rest of the slide
            camera.set_controls(self._locked)
            return {**settings, **self._settings_locked()}
        metadata, frames, settled = self._settle(camera)
        controls: dict[str, Any] = {}
        if "ExposureTime" in metadata and "AnalogueGain" in metadata:
            controls.update(
                AeEnable=False,
                ExposureTime=int(metadata["ExposureTime"]),
                AnalogueGain=float(metadata["AnalogueGain"]),
            )
        if "ColourGains" in metadata:
            controls.update(AwbEnable=False, ColourGains=tuple(float(g) for g in metadata["ColourGains"]))
        if not controls:
            warning = f"camera {self.spec}: no exposure metadata; exposure and white balance left automatic"
            return {**settings, "locked": False, "warning": warning}
        camera.set_controls(controls)
        self._locked = controls
        self._settle_facts = {
            "settled": settled,
            "settle_frames": frames,
            "metadata": {key: _plain(metadata[key]) for key in RECORDED_KEYS if key in metadata},
        }
        locked = {**settings, **self._settings_locked()}
        if not settled:
            locked["warning"] = (
                f"camera {self.spec}: exposure still changing after {frames} frames; locked anyway "
                "(more light, or --settle-frames)"
            )
        return locked

    def _settings_locked(self) -> dict[str, Any]:
        controls = {key: _plain(value) for key, value in (self._locked or {}).items()}
        return {"locked": True, "controls": controls, **self._settle_facts}

    def _settle(self, camera: Any) -> tuple[dict[str, Any], int, bool]:
        """Read frame metadata until the exposure values hold still; (last metadata, frames, settled)."""
        previous: list[float] | None = None
        steady = 0
        metadata: dict[str, Any] = {}
        limit = max(1, self.request.settle_frames)
        for frame in range(1, limit + 1):
            metadata = camera.capture_metadata()
            values = [float(v) for key in SETTLE_KEYS for v in np.atleast_1d(metadata.get(key, []))]
            if previous is not None and len(values) == len(previous) and _close(values, previous):
                steady += 1
                if steady >= STABLE_FRAMES:
                    return metadata, frame, True
            else:
                steady = 0
            previous = values
        return metadata, limit, False

    def _stream_facts(self, name: str) -> dict[str, Any]:
        stream = self._config.get(name) or {}
        return {"name": name, "format": stream.get("format"), "size": list(stream.get("size", ()))}


def _close(values: list[float], previous: list[float]) -> bool:
    return all(abs(a - b) <= STABLE_CHANGE * max(abs(b), 1e-9) for a, b in zip(values, previous, strict=True))


def _plain(value: Any) -> Any:
    """A metadata value as JSON: tuples and arrays become lists of floats."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return [float(v) for v in value]
    return value if isinstance(value, (bool, int, float, str)) or value is None else str(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
