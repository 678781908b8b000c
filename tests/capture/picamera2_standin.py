"""A STAND-IN for picamera2: not picamera2, not a camera, only for tests on a machine with no Pi camera.

edge-all's PiCamera source (edge_all/capture/picamera_source.py) runs on a Raspberry Pi with
picamera2 and a camera module. Neither exists on the machines where edge-all is developed and
tested, so these tests drive the source with this stand-in, installed as the `picamera2` module for
the length of one test. It was written from the picamera2 manual
(https://datasheets.raspberrypi.com/camera/picamera2-manual.pdf) and picamera2's source
(github.com/raspberrypi/picamera2: picamera2.py, request.py, platform.py), and implements only
the documented behaviour the source relies on:

- `Picamera2(camera_num)`: IndexError when there is no such camera (picamera2 indexes the
  camera manager's list); `Picamera2.platform`, `Platform.VC4` (Pi 4) or `Platform.PISP` (Pi 5).
- `sensor_resolution`, `sensor_modes` (dicts with size, bit_depth, crop_limits, ...).
- `create_video_configuration` / `create_still_configuration(main=, lores=, buffer_count=, sensor=)`:
  the defaults of the real ones (video: main XBGR8888 1280x720, colour space SMPTE 170M below
  1280x720 and Rec.709 above; still: main BGR888 at the sensor size, colour space sYCC; lores
  YUV420).
- `configure`: "lores stream dimensions may not exceed main stream", and on VC4 "lores stream
  must be YUV" (RuntimeError), as picamera2's check; the sensor mode is the one `sensor=` names,
  else, like libcamera, the smallest covering the main stream, whether or not it crops the field.
- `camera_configuration()`, `start`, `stop`, `close`, `set_controls`, `capture_metadata`,
  `capture_array(name)`, `capture_request()` (`make_array`, `get_metadata`, `release`).
- Arrays as Appendix A of the manual lays them out: "RGB888" (H, W, 3) as [B, G, R],
  "BGR888" [R, G, B], "XRGB8888" (H, W, 4) [B, G, R, 255], "XBGR8888" [R, G, B, 255], "YUV420"
  (H * 3 / 2, stride) bytes: Y rows, then the U and V planes (stride padding left in, as
  request.py's make_array does).
- Metadata: ExposureTime, AnalogueGain, DigitalGain, ColourGains, ColourTemperature, Lux. While
  AeEnable/AwbEnable are on they move towards the scene's values each frame; set_controls with
  them off and explicit values makes every later frame report those values.

Frames show a scene (an RGB image covering the whole, scaled-down, sensor): the sensor mode's
crop of it, scaled to each stream's size as the ISP would, so a test can see the field of view.
What the stand-in cannot show: the real ISP's scaler, colour processing and timing, libcamera's
mode choice and format adjustments, real AE/AWB behaviour. Those stay untested (docs/capture.md).
"""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from PIL import Image

from .yuv import encode_yuv420


def pack(rgb: np.ndarray, fmt: str, colour_space: ColorSpace) -> np.ndarray:
    """An RGB image in a picamera2 stream format, as capture_array hands it out."""
    if fmt == "RGB888":
        return np.ascontiguousarray(rgb[:, :, ::-1])
    if fmt == "BGR888":
        return rgb.copy()
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    if fmt == "XRGB8888":
        return np.concatenate([rgb[:, :, ::-1], alpha], axis=2)
    if fmt == "XBGR8888":
        return np.concatenate([rgb, alpha], axis=2)
    if fmt in ("YUV420", "YVU420"):
        stride = math.ceil(rgb.shape[1] / 64) * 64 + 64  # padded, as hardware strides can be
        return encode_yuv420(rgb, stride, colour_space.matrix, colour_space.full_range, vu=fmt == "YVU420")
    raise RuntimeError(f"Format {fmt} not supported")


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class YcbcrEncoding(_Named):
    pass


class Range(_Named):
    pass


class ColorSpace:
    """libcamera.ColorSpace as picamera2 puts it in a configuration: ycbcrEncoding and range enums."""

    def __init__(self, name: str, matrix: str, full_range: bool) -> None:
        self._name, self.matrix, self.full_range = name, matrix, full_range
        self.ycbcrEncoding = YcbcrEncoding("Rec709" if matrix == "rec709" else "Rec601")
        self.range = Range("Full" if full_range else "Limited")

    def __str__(self) -> str:
        return self._name

    @classmethod
    def Sycc(cls) -> ColorSpace:  # noqa: N802 (libcamera's name)
        return cls("sYCC", "rec601", True)

    @classmethod
    def Smpte170m(cls) -> ColorSpace:  # noqa: N802
        return cls("SMPTE170M", "rec601", False)

    @classmethod
    def Rec709(cls) -> ColorSpace:  # noqa: N802
        return cls("Rec709", "rec709", False)


class Platform(Enum):
    VC4 = 0
    PISP = 1


# A scaled-down 4:3 sensor shaped like the HQ camera's (IMX477: 2028x1080 and 1332x990 crop the
# field, 2028x1520 and 4056x3040 do not): a quarter of each size, so full frames stay small.
SENSOR = (1014, 760)
SENSOR_MODES = [
    {"size": (333, 248), "bit_depth": 10, "crop_limits": (174, 132, 666, 496)},  # a cropped mode
    {"size": (507, 270), "bit_depth": 12, "crop_limits": (0, 110, 1014, 540)},  # cropped vertically
    {"size": (507, 380), "bit_depth": 12, "crop_limits": (0, 0, 1014, 760)},  # binned, whole field
    {"size": (1014, 760), "bit_depth": 12, "crop_limits": (0, 0, 1014, 760)},  # full resolution
]


@dataclass
class World:
    """What the stand-in's camera is like, and what goes wrong; one per test."""

    scene: np.ndarray  # RGB, SENSOR[1] x SENSOR[0]: what the lens sees
    cameras: int = 1
    platform: Platform = Platform.VC4
    fail_start: bool = False
    fail_capture: bool = False
    adjust_main_format: str | None = None  # libcamera adjusting the format picamera2 asked for
    settles: bool = True  # False: automatic exposure keeps hunting
    target: dict[str, Any] = field(
        default_factory=lambda: {"ExposureTime": 20000, "AnalogueGain": 2.0, "ColourGains": (1.8, 1.5)}
    )
    opened: list[StandInPicamera2] = field(default_factory=list)


class CompletedRequest:
    def __init__(self, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
        self._arrays, self._metadata, self.released = arrays, metadata, False

    def make_array(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return self._arrays[name]

    def get_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def release(self) -> None:
        self.released = True


class StandInPicamera2:
    """The parts of picamera2.Picamera2 that edge-all's PiCamera source uses (see the module docstring)."""

    world: World  # set on the class made for each test by install()
    platform: Platform

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= self.world.cameras:
            raise IndexError("list index out of range")
        self.camera_num = camera_num
        self.sensor_resolution = SENSOR
        self.config: dict[str, Any] | None = None
        self.started = self.closed = False
        self.controls: dict[str, Any] = {"AeEnable": True, "AwbEnable": True}
        self.controls_set: list[dict[str, Any]] = []
        self.metadata_reads = 0
        self.state = {"ExposureTime": 10000.0, "AnalogueGain": 1.0, "ColourGains": (1.0, 1.0)}
        self.frame = 0
        self.world.opened.append(self)

    @property
    def sensor_modes(self) -> list[dict[str, Any]]:
        return [
            {
                **mode,
                "format": "SRGGB12_CSI2P",
                "unpacked": "SRGGB12",
                "fps": 30.0,
                "exposure_limits": (31, 667245),
            }
            for mode in SENSOR_MODES
        ]

    # ---- configuration ---------------------------------------------------------------------
    def create_video_configuration(
        self,
        main=None,
        lores=None,
        raw=None,
        colour_space=None,
        buffer_count=6,
        controls=None,
        sensor=None,
        **_,
    ) -> dict[str, Any]:
        main = {"format": "XBGR8888", "size": (1280, 720), **(main or {})}
        if colour_space is None:
            small = main["size"][0] < 1280 or main["size"][1] < 720
            colour_space = ColorSpace.Smpte170m() if small else ColorSpace.Rec709()
        return self._config("video", main, lores, colour_space, buffer_count, sensor)

    def create_still_configuration(
        self,
        main=None,
        lores=None,
        raw=None,
        colour_space=None,
        buffer_count=1,
        controls=None,
        sensor=None,
        **_,
    ) -> dict[str, Any]:
        main = {"format": "BGR888", "size": SENSOR, **(main or {})}
        return self._config("still", main, lores, colour_space or ColorSpace.Sycc(), buffer_count, sensor)

    def _config(self, use_case, main, lores, colour_space, buffer_count, sensor) -> dict[str, Any]:
        if lores is not None:
            lores = {"format": "YUV420", "size": main["size"], **lores}
        return {
            "use_case": use_case,
            "main": dict(main),
            "lores": lores,
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "sensor": dict(sensor or {}),
        }

    def configure(self, config: dict[str, Any]) -> None:
        config = {**config, "main": dict(config["main"])}
        if self.world.adjust_main_format:
            config["main"]["format"] = self.world.adjust_main_format
        lores = config.get("lores")
        if lores is not None:
            if lores["size"][0] > config["main"]["size"][0] or lores["size"][1] > config["main"]["size"][1]:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
            if self.platform == Platform.VC4 and lores["format"] not in ("YUV420", "YVU420"):
                raise RuntimeError("lores stream must be YUV")
        for stream in (config["main"], lores):
            if stream is not None:
                stream["size"] = tuple(stream["size"])
                stream["stride"] = stream["size"][0] * (4 if "8888" in stream["format"] else 3)
        wanted = config["sensor"].get("output_size")
        modes = [m for m in SENSOR_MODES if wanted is None or tuple(m["size"]) == tuple(wanted)]
        if not modes:
            raise RuntimeError(f"no sensor mode of size {wanted}")
        size = config["main"]["size"]
        covering = [m for m in modes if m["size"][0] >= size[0] and m["size"][1] >= size[1]] or modes[-1:]
        mode = min(covering, key=lambda m: m["size"][0] * m["size"][1])
        config["sensor"] = {"output_size": mode["size"], "bit_depth": mode["bit_depth"]}
        config["crop"] = mode["crop_limits"]
        self.config = config

    def camera_configuration(self) -> dict[str, Any]:
        return self.config

    # ---- running ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        if self.world.fail_start:
            raise RuntimeError("Failed to start camera: Device or resource busy")
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.started, self.closed = False, True

    def set_controls(self, controls: dict[str, Any]) -> None:
        self.controls_set.append(dict(controls))
        self.controls.update(controls)

    def capture_metadata(self) -> dict[str, Any]:
        self.metadata_reads += 1
        return self._next_frame_metadata()

    def capture_array(self, name: str = "main") -> np.ndarray:
        return self.capture_request().make_array(name)

    def capture_request(self) -> CompletedRequest:
        if not self.started:
            raise RuntimeError("Camera is not running")
        if self.world.fail_capture:
            raise RuntimeError("Camera frontend has timed out!\nPlease check your camera sensor connector")
        metadata = self._next_frame_metadata()
        arrays = {
            name: self._render(self.config[name]) for name in ("main", "lores") if self.config.get(name)
        }
        return CompletedRequest(arrays, metadata)

    def _render(self, stream: dict[str, Any]) -> np.ndarray:
        x, y, w, h = self.config["crop"]
        view = Image.fromarray(self.world.scene[y : y + h, x : x + w])
        rgb = np.asarray(view.resize(stream["size"], Image.Resampling.BILINEAR))
        return pack(rgb, stream["format"], self.config["colour_space"])

    def _next_frame_metadata(self) -> dict[str, Any]:
        self.frame += 1
        target = dict(self.world.target)
        if not self.world.settles:  # hunting: the target swings by 30 % every frame
            swing = 1.3 if self.frame % 2 else 1 / 1.3
            target["ExposureTime"] = target["ExposureTime"] * swing
        state = self.state
        if self.controls.get("AeEnable", True):
            for key in ("ExposureTime", "AnalogueGain"):
                state[key] += 0.5 * (target[key] - state[key])
        else:
            state["ExposureTime"] = float(self.controls["ExposureTime"])
            state["AnalogueGain"] = float(self.controls["AnalogueGain"])
        if self.controls.get("AwbEnable", True):
            pairs = zip(state["ColourGains"], target["ColourGains"], strict=True)
            state["ColourGains"] = tuple(s + 0.5 * (t - s) for s, t in pairs)
        else:
            state["ColourGains"] = tuple(self.controls["ColourGains"])
        return {
            "ExposureTime": int(state["ExposureTime"]),
            "AnalogueGain": state["AnalogueGain"],
            "DigitalGain": 1.0,
            "ColourGains": state["ColourGains"],
            "ColourTemperature": 4500,
            "Lux": 400.0,
            "SensorTimestamp": self.frame * 33_333_000,
        }


def install(monkeypatch, world: World) -> World:
    """Make `import picamera2` give this stand-in, with `world`, for the rest of one test."""
    module = types.ModuleType("picamera2")
    module.__doc__ = "STAND-IN for picamera2 (tests/capture/picamera2_standin.py), not the real library"
    camera_class = type("Picamera2", (StandInPicamera2,), {"world": world, "platform": world.platform})
    module.Picamera2 = camera_class
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return world
