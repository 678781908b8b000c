"""The quality thresholds a frame must meet to be classified, and how each is checked when given.

Standard library only, so the CLI takes its defaults from here without loading numpy, and a station
can build them from a form. edge_all.triage.quality measures a frame and judges it against them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from edge_all.errors import UsageError
from edge_all.jsonfile import read_json_object


class QualityConfigError(UsageError):
    """Quality thresholds (from a flag or a config file) that cannot be used."""


def require_number(name: str, value: float, low: float, high: float = math.inf) -> None:
    """Refuse NaN, infinities and values outside [low, high]: NaN silently passes every comparison."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, not {value!r}")
    if not low <= value <= high:
        allowed = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise UsageError(f"{name} must be {allowed}, not {value:g}")


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

    min_brightness: float = 110.0  # luma (0-255) of the bare glass (the lamp): below this, too dark
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
