"""What a capture is asked to do: its loop options (with the quality thresholds of edge_all.triage)
and the whole request.

Standard library only, so the CLI takes its defaults from here without loading numpy, and a
station can build a request from a form. edge_all.capture.app runs a CaptureRequest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_all.errors import UsageError
from edge_all.runtime.choice import ModelChoice
from edge_all.site.profile import Site
from edge_all.triage.screening import ScreeningRule
from edge_all.triage.thresholds import QualityThresholds, require_number

DEFAULT_SETTLE_SECONDS = 1.0  # folder sources: how long a file must stay unchanged before it is read
DEFAULT_SETTLE_FRAMES = 30  # cameras: frames for exposure and white balance to settle before locking


FRAME_FORMATS = ("png", "jpeg")  # how saved frames are written (edge_all.capture.frames.FORMATS)


def check_frame_format(frame_format: str) -> None:
    """Refuse a --frame-format that frames cannot be saved in."""
    if frame_format not in FRAME_FORMATS:
        raise UsageError(f"--frame-format must be {' or '.join(FRAME_FORMATS)}, not {frame_format!r}")


def is_utf8_text(text: str) -> bool:
    """False for text holding undecodable bytes (a non-UTF-8 command-line argument), which SQLite refuses."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class CaptureOptions:
    """How the capture loop runs: when it stops, what counts as uncertain, what it keeps."""

    sample_id: str | None = None
    count: int | None = None  # stop after this many frames (rejected ones count)
    interval: float | None = None  # seconds from one capture to the next; None: the source's default
    duration: float | None = None  # stop after this many seconds
    threshold: float | None = None  # below this confidence a frame is "uncertain"; None: the bundle's
    tta: bool = False  # average the 8 rotations and flips of each frame (8 times the inference)
    quality: QualityThresholds | None = QualityThresholds()  # None: no quality gate
    save_frames: Path | None = None
    save_heatmaps: bool = False  # a heat-map overlay beside each saved frame (needs save_frames)
    frame_format: str = "png"
    reconnect_timeout: float = 30.0
    poll_seconds: float = 0.2  # how often a folder source is looked at when idle
    screening: ScreeningRule = ScreeningRule()  # how many fields the sample's call needs
    # The scale of the camera's frames as the source delivers them (before the loop shrinks them),
    # stored with the session for this camera and objective; None: estimated from each frame's red cells.
    um_per_px: float | None = None
    # A commissioned site (edge_all.site): its scale reads every frame (um_per_px is then None), its LAB
    # statistics standardise every frame's stain where the bundle reads cells, and its profile's sha256
    # is recorded with the session; None: not commissioned (each frame's own scale and stain).
    site: Site | None = None

    @property
    def camera_um_per_px(self) -> float | None:
        """The scale of the camera's frames: the site's, else the one given; None: estimated."""
        return self.site.profile.scale.um_per_px if self.site is not None else self.um_per_px

    def __post_init__(self) -> None:
        if self.threshold is not None:  # None: the bundle's own
            require_number("threshold", self.threshold, 0.0, 1.0)
        for name in ("interval", "duration", "reconnect_timeout", "poll_seconds"):
            if getattr(self, name) is not None:
                require_number(name, getattr(self, name), 0.0)
        check_frame_format(self.frame_format)
        if self.um_per_px is not None:
            require_number("um per px", self.um_per_px, 0.01, 10.0)
        if self.um_per_px is not None and self.site is not None:
            raise UsageError("give --site or --um-per-px, not both (the site's scale is its microscope's)")
        if self.sample_id is not None and not is_utf8_text(self.sample_id):
            raise UsageError(f"sample id {self.sample_id!r} is not valid UTF-8 text")


@dataclass(frozen=True)
class CaptureRequest:
    """One capture: which model, which source, which database, and how to run the loop."""

    model: ModelChoice = ModelChoice()  # which model, and how it runs (default: the reference bundle)
    camera: str = "opencv:0"  # a `--camera` value (edge_all.capture.spec)
    db: Path | None = None  # None: edge_all.results.store.default_db_path()
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    options: CaptureOptions = field(default_factory=CaptureOptions)
    capture_size: tuple[int, int] | None = None  # (width, height); None: the smallest covering the model
    lock_exposure: bool = True  # cameras: settle, then lock exposure and white balance for the slide
    settle_frames: int = DEFAULT_SETTLE_FRAMES

    def __post_init__(self) -> None:
        require_number("settle", self.settle_seconds, 0.0)


def parse_size(text: str) -> tuple[int, int]:
    """A WIDTHxHEIGHT value ("640x480") as (640, 480), or a UsageError saying what is wrong."""
    width, sep, height = text.strip().lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise UsageError(f"--capture-size must be WIDTHxHEIGHT in pixels, e.g. 640x480, not {text!r}")
    return int(width), int(height)
