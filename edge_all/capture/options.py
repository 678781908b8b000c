"""What a capture is asked to do: its quality thresholds, its loop options, and the whole request.

Standard library only, so the CLI takes its defaults from here without loading numpy, and a
station can build a request from a form. edge_all.capture.app runs a CaptureRequest.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from edge_all.errors import UsageError
from edge_all.jsonfile import read_json_object
from edge_all.screening import ScreeningRule

DEFAULT_SETTLE_SECONDS = 1.0  # folder sources: how long a file must stay unchanged before it is read
DEFAULT_SETTLE_FRAMES = 30  # cameras: frames for exposure and white balance to settle before locking


class QualityConfigError(UsageError):
    """Quality thresholds (from a flag or a config file) that cannot be used."""


def require_number(name: str, value: float, low: float, high: float = math.inf) -> None:
    """Refuse NaN, infinities and values outside [low, high]: NaN silently passes every comparison."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, not {value!r}")
    if not low <= value <= high:
        allowed = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise UsageError(f"{name} must be {allowed}, not {value:g}")


def is_utf8_text(text: str) -> bool:
    """False for text holding undecodable bytes (a non-UTF-8 command-line argument), which SQLite refuses."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# What each threshold can mean: brightness is mean luma (0-255), clipped and stained are fractions,
# contrast (a standard deviation of luma) and focus (a variance) are never negative.
_THRESHOLD_RANGES = {
    "min_brightness": (0.0, 255.0),
    "max_brightness": (0.0, 255.0),
    "max_clipped": (0.0, 1.0),
    "min_contrast": (0.0, 255.0),
    "min_stained": (0.0, 1.0),
    "min_focus": (0.0, math.inf),
}


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a frame must meet to be classified; see docs/capture.md for how each was chosen."""

    min_brightness: float = 130.0  # mean luma (0-255): below this the field is too dark
    max_brightness: float = 250.0  # above this the field is washed out
    max_clipped: float = 0.50  # fraction of pixels at luma < 2 or > 253 (sensor clipping)
    min_contrast: float = 8.0  # standard deviation of luma: below this the field is blank
    min_stained: float = 0.001  # fraction of stained (purple/pink) pixels: below this, no cells
    min_focus: float = 40.0  # variance of the Laplacian of luma: below this the field is blurred

    def __post_init__(self) -> None:
        # NaN compares false with everything, so a NaN limit would silently switch its check off.
        for name, (low, high) in _THRESHOLD_RANGES.items():
            try:
                require_number(name, getattr(self, name), low, high)
            except UsageError as exc:
                raise QualityConfigError(f"quality threshold {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> QualityThresholds:
        """Read a JSON object of threshold overrides (unknown keys are an error, not ignored)."""
        doc = read_json_object(path, "quality config", QualityConfigError)
        values = {name: doc.number(name) for name in doc}  # each error names the file and the key
        try:
            return cls().replace(**values)
        except QualityConfigError as exc:
            raise QualityConfigError(f"{path}: {exc}") from None

    def replace(self, **overrides: float | None) -> QualityThresholds:
        """A copy with the given thresholds changed; None values are left as they are."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise QualityConfigError(f"unknown quality threshold(s) {unknown}; known: {sorted(known)}")
        values = asdict(self)
        for name, value in overrides.items():
            if value is None:
                continue
            try:
                values[name] = float(value)
            except (TypeError, ValueError):
                raise QualityConfigError(
                    f"quality threshold {name} must be a number, not {value!r}"
                ) from None
        return QualityThresholds(**values)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


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

    def __post_init__(self) -> None:
        if self.threshold is not None:  # None: the bundle's own
            require_number("threshold", self.threshold, 0.0, 1.0)
        for name in ("interval", "duration", "reconnect_timeout", "poll_seconds"):
            if getattr(self, name) is not None:
                require_number(name, getattr(self, name), 0.0)
        if self.sample_id is not None and not is_utf8_text(self.sample_id):
            raise UsageError(f"sample id {self.sample_id!r} is not valid UTF-8 text")


@dataclass(frozen=True)
class CaptureRequest:
    """One capture: which model, which source, which database, and how to run the loop."""

    model: Path | None = None  # a bundle directory or a plain .tflite; None: the reference bundle
    camera: str = "opencv:0"  # a `--camera` value (edge_all.capture.spec)
    labels: Path | None = None
    threads: int | None = None
    edgetpu: bool = False
    db: Path | None = None  # None: edge_all.capture.store.default_db_path()
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
