"""The Raspberry Pi camera through picamera2 (imported only here, only when this source opens).

Written from the picamera2 manual; it cannot run without a Pi camera, so nothing tests it here.
In picamera2 the format names follow libcamera/DRM, which count from the most significant byte:
"RGB888" arrives in memory as [B, G, R] per pixel, which is why frames go through bgr_to_rgb.
"""

from __future__ import annotations

from typing import Any

from edge_all.capture.sources import Frame, FrameSource, SourceUnavailable, bgr_to_rgb

# Full-resolution stills are slow to demosaic on a Pi and far more than the model's 224 pixels.
STILL_SIZE = (1640, 1232)


class PiCamera(FrameSource):
    default_interval = 1.0

    def __init__(self, spec: str, index: int = 0) -> None:
        super().__init__(spec)
        self.index = index
        self._camera: Any = None
        self._count = 0

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
            config = camera.create_still_configuration(main={"format": "RGB888", "size": STILL_SIZE})
            camera.configure(config)
            camera.start()
        except Exception as exc:
            camera.close()
            raise SourceUnavailable(f"camera {self.spec}: cannot be started ({exc})") from None
        self._camera = camera

    def read(self) -> Frame | None:
        if self._camera is None:
            raise SourceUnavailable(f"camera {self.spec}: not open")
        try:
            frame = self._camera.capture_array("main")
        except Exception as exc:
            raise SourceUnavailable(f"camera {self.spec}: capture failed ({exc})") from None
        index, self._count = self._count, self._count + 1
        return Frame(index=index, origin=f"{self.spec}#{index}", rgb=bgr_to_rgb(frame))

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
            finally:
                self._camera.close()
                self._camera = None
