"""The `--camera` value: one table of source kinds, and the parser that builds a source from a spec.

A kind is one row (how it is written, what it is, which values it takes, how to build it), in the
spirit of Ultralytics' exporter table: a new kind of source (an RTSP stream, the IMX500 AI Camera)
is a new module and a new row here. Each row imports its module only when it builds a source, so
every spec parses on a device without OpenCV or picamera2, and sources.py stays a leaf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_all.capture.options import DEFAULT_SETTLE_SECONDS
from edge_all.capture.sources import FrameSource
from edge_all.errors import UsageError


class SourceSpecError(UsageError):
    """A `--camera` value that names no known kind of source."""


@dataclass(frozen=True)
class SourceKind:
    syntax: str  # how the spec is written, for help and errors
    what: str
    accepts: Callable[[str], bool]  # the part after "KIND:"
    build: Callable[[str, str, float], FrameSource]  # (spec, that part, folder settle seconds)


def _picamera(spec: str, rest: str, _settle: float) -> FrameSource:
    from edge_all.capture.picamera_source import PiCamera

    return PiCamera(spec, int(rest) if rest else 0)


def _opencv(spec: str, rest: str, _settle: float) -> FrameSource:
    from edge_all.capture.opencv_sources import OpenCVCamera

    return OpenCVCamera(spec, int(rest) if rest.isdigit() else rest)


def _video(spec: str, rest: str, _settle: float) -> FrameSource:
    from edge_all.capture.opencv_sources import VideoFile

    return VideoFile(spec, Path(rest))


def _folder(_spec: str, rest: str, settle: float) -> FrameSource:
    from edge_all.capture.folder_source import FolderSource

    # Known by its resolved path, however it was typed (drop, ./drop/, /abs/drop, a link to it): the
    # source and origins recorded, and so a restart's de-duplication, do not depend on the spelling.
    folder = Path(rest).expanduser().resolve()
    return FolderSource(f"folder:{folder}", folder, settle_seconds=settle)


SOURCE_KINDS: dict[str, SourceKind] = {
    "picamera2": SourceKind(
        "picamera2[:INDEX]", "Raspberry Pi camera", lambda rest: not rest or rest.isdigit(), _picamera
    ),
    "opencv": SourceKind("opencv:INDEX or a /dev/video* path", "USB camera", bool, _opencv),
    "video": SourceKind("video:FILE", "any video OpenCV reads", bool, _video),
    "folder": SourceKind("folder:DIR", "images dropped by microscope software", bool, _folder),
}
SOURCE_HELP = ", ".join(f"{kind.syntax} ({kind.what})" for kind in SOURCE_KINDS.values())


def parse_source(spec: str, settle_seconds: float = DEFAULT_SETTLE_SECONDS) -> FrameSource:
    """Build the source a `--camera` value names (nothing is opened yet)."""
    kind, _, rest = spec.partition(":")
    if spec.startswith("/dev/"):  # a V4L2 device path is a USB camera
        kind, rest = "opencv", spec
    row = SOURCE_KINDS.get(kind)
    if row is None or not row.accepts(rest):
        raise SourceSpecError(f"unknown camera source {spec!r}; use {SOURCE_HELP}")
    return row.build(spec, rest, settle_seconds)
