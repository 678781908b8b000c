"""One conversion's settings, checked before any work: what `edge-all convert` takes and its defaults.

Standard library only, so the CLI reads its defaults here without loading numpy or TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from convert.errors import ConvertOptionError

PRECISIONS = ("int8", "float16", "float32")
IO_DTYPES = ("uint8", "int8")
DEFAULT_SAMPLES = 200  # training images that calibrate an int8 model
DEFAULT_REFERRAL_RATE = 0.03  # of the validation images, which the referral detector refers
DEFAULT_REFERRAL_DIMENSIONS = 128  # principal components of the features the detector models
DEFAULT_CONFIDENCE_THRESHOLD = 0.6  # below it (calibrated) a result is "uncertain"; recorded in the bundle


@dataclass
class ConvertConfig:
    """One conversion, as `edge-all convert` takes it; bad combinations fail here, before any work."""

    run_dir: Path
    out: Path | None = None  # default: RUN_DIR/bundle-<precision>
    precision: str = "int8"  # "int8", "float16" or "float32"
    io_dtype: str = "uint8"  # int8 only: the input and output tensor type ("uint8" or "int8")
    calibration_samples: int = DEFAULT_SAMPLES
    max_drop: float = 1.0  # percentage points of accuracy the converted model may lose
    max_robustness_drop: float = 1.0  # ... under each condition of the robustness battery
    data: Path | None = None  # check on every image of this labelled folder instead of the test split
    referral_rate: float = DEFAULT_REFERRAL_RATE
    referral_dimensions: int = DEFAULT_REFERRAL_DIMENSIONS
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    ood: Path | None = None  # images from other laboratories: how many the bundle refers (reported only)
    force: bool = False
    edgetpu: bool = False
    progress: bool = True  # progress bars on stderr

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.out = Path(self.out) if self.out is not None else self.run_dir / f"bundle-{self.precision}"
        self.data = Path(self.data) if self.data is not None else None
        self.ood = Path(self.ood) if self.ood is not None else None
        if not 0.0 < self.referral_rate < 0.5:
            raise ConvertOptionError(f"--referral-rate must be between 0 and 0.5, not {self.referral_rate}")
        if self.referral_dimensions < 1:
            raise ConvertOptionError("--referral-dimensions must be at least 1")
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ConvertOptionError(f"--threshold must be between 0 and 1, not {self.confidence_threshold}")
        if self.precision not in PRECISIONS:
            raise ConvertOptionError(
                f"unknown precision {self.precision!r} (choose from {', '.join(PRECISIONS)})"
            )
        if self.io_dtype not in IO_DTYPES:
            raise ConvertOptionError(
                f"unknown I/O type {self.io_dtype!r} (choose from {', '.join(IO_DTYPES)})"
            )
        if self.calibration_samples < 1:
            raise ConvertOptionError("--calibration-samples must be at least 1")
        if self.edgetpu and self.precision != "int8":
            raise ConvertOptionError(
                "--edgetpu needs an int8 model (the Edge TPU runs only full-integer models)"
            )

    @property
    def target(self) -> Path:
        assert self.out is not None
        return self.out
