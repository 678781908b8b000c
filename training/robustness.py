"""The robustness battery: the test images as another clinic's microscope, camera or slide would give them.

A clinic's microscope is always "another lab": the slide lies at another angle, the camera compresses
harder, the focus is a little soft, the lamp and the stain differ, the sensor has fewer pixels. Each
condition of the battery is one such change, named and deterministic (Pillow, so every backend and
the converter score the same pixels), applied to the model-sized test pixels. For each condition the
battery reports accuracy, the recall of every class, how many malignant images were called Benign
(the dangerous miss), and how often the answer agrees with the answer on the unchanged image.

Bump BATTERY_VERSION whenever a condition changes: results of different versions do not compare.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

BATTERY_VERSION = 1
BENIGN = "Benign"


@dataclass(frozen=True)
class Condition:
    name: str
    what: str  # the condition in words, for reports
    apply: Callable[[Image.Image], Image.Image]
    square_only: bool = False  # transposes keep the shape of square images only


def _jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")

    return apply


def _hue(degrees: int) -> Callable[[Image.Image], Image.Image]:
    shift = round(degrees * 256 / 360)

    def apply(image: Image.Image) -> Image.Image:
        hue, saturation, value = image.convert("HSV").split()
        hue = hue.point(lambda h: (h + shift) % 256)
        return Image.merge("HSV", (hue, saturation, value)).convert("RGB")

    return apply


def _rescaled(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        small = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return image.resize(small, Image.Resampling.BILINEAR).resize(image.size, Image.Resampling.BILINEAR)

    return apply


T = Image.Transpose
BATTERY: tuple[Condition, ...] = (
    Condition("clean", "as the test image is", lambda im: im),
    Condition("rot90", "rotated 90 degrees", lambda im: im.transpose(T.ROTATE_90)),
    Condition("rot180", "rotated 180 degrees", lambda im: im.transpose(T.ROTATE_180)),
    Condition("rot270", "rotated 270 degrees", lambda im: im.transpose(T.ROTATE_270)),
    Condition("mirror", "mirrored left-right", lambda im: im.transpose(T.FLIP_LEFT_RIGHT)),
    Condition("flip", "flipped top-bottom", lambda im: im.transpose(T.FLIP_TOP_BOTTOM)),
    Condition("transpose", "mirrored about the diagonal", lambda im: im.transpose(T.TRANSPOSE), True),
    Condition("transverse", "mirrored about the anti-diagonal", lambda im: im.transpose(T.TRANSVERSE), True),
    Condition("jpeg90", "re-saved as JPEG, quality 90", _jpeg(90)),
    Condition("jpeg75", "re-saved as JPEG, quality 75", _jpeg(75)),
    Condition("jpeg50", "re-saved as JPEG, quality 50", _jpeg(50)),
    Condition(
        "blur0.75", "Gaussian blur, sigma 0.75 px", lambda im: im.filter(ImageFilter.GaussianBlur(0.75))
    ),
    Condition("blur1.0", "Gaussian blur, sigma 1.0 px", lambda im: im.filter(ImageFilter.GaussianBlur(1.0))),
    Condition("darker", "brightness x0.8", lambda im: ImageEnhance.Brightness(im).enhance(0.8)),
    Condition("brighter", "brightness x1.2", lambda im: ImageEnhance.Brightness(im).enhance(1.2)),
    Condition("desaturated", "saturation x0.7", lambda im: ImageEnhance.Color(im).enhance(0.7)),
    Condition("saturated", "saturation x1.3", lambda im: ImageEnhance.Color(im).enhance(1.3)),
    Condition("hue+10", "hue shifted +10 degrees", _hue(10)),
    Condition("hue-10", "hue shifted -10 degrees", _hue(-10)),
    Condition("half_res", "half resolution, scaled back up", _rescaled(0.5)),
)
D4_CONDITIONS = ("rot90", "rot180", "rot270", "mirror", "flip", "transpose", "transverse")


def conditions_for(pixels: np.ndarray, names: Sequence[str] | None = None) -> list[Condition]:
    """The battery's conditions that apply to these (N, H, W, 3) pixels, optionally only `names`."""
    square = pixels.shape[1] == pixels.shape[2]
    chosen = [c for c in BATTERY if (square or not c.square_only) and (names is None or c.name in names)]
    unknown = set(names or ()) - {c.name for c in BATTERY}
    if unknown:
        raise ValueError(f"unknown robustness condition(s) {sorted(unknown)}")
    return chosen


def apply_condition(condition: Condition, pixels: np.ndarray) -> np.ndarray:
    """The condition applied to each image of (N, H, W, 3) uint8 pixels."""
    return np.stack([np.asarray(condition.apply(Image.fromarray(image))) for image in pixels])


@dataclass(frozen=True)
class ConditionResult:
    name: str
    what: str
    images: int
    accuracy: float
    per_class_recall: dict[str, float | None]
    malignant: int  # images of a class other than Benign
    malignant_called_benign: int
    agreement_with_clean: float  # share of images whose predicted class is the one on the clean image


def score_condition(
    condition: Condition,
    predicted: np.ndarray,
    clean: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
) -> ConditionResult:
    """One condition's numbers from predicted class indices (and those on the clean images)."""
    recall = {
        name: (float(np.mean(predicted[labels == i] == i)) if np.any(labels == i) else None)
        for i, name in enumerate(classes)
    }
    benign = list(classes).index(BENIGN) if BENIGN in classes else None
    malignant = labels != benign if benign is not None else np.zeros(len(labels), bool)
    called_benign = int(np.sum(malignant & (predicted == benign))) if benign is not None else 0
    return ConditionResult(
        name=condition.name,
        what=condition.what,
        images=len(labels),
        accuracy=float(np.mean(predicted == labels)) if len(labels) else 0.0,
        per_class_recall=recall,
        malignant=int(np.sum(malignant)),
        malignant_called_benign=called_benign,
        agreement_with_clean=float(np.mean(predicted == clean)) if len(labels) else 0.0,
    )


def run_battery(
    predict: Callable[[np.ndarray], np.ndarray],
    pixels: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    names: Sequence[str] | None = None,
    on_condition: Callable[[str], None] = lambda name: None,
) -> list[ConditionResult]:
    """Score `predict` (uint8 pixels -> class probabilities, one row per image) under each condition."""
    conditions = conditions_for(pixels, names)
    predictions = {}
    for condition in [c for c in BATTERY if c.name == "clean"] + [c for c in conditions if c.name != "clean"]:
        on_condition(condition.name)
        predictions[condition.name] = np.argmax(predict(apply_condition(condition, pixels)), axis=1)
    clean = predictions["clean"]
    return [score_condition(c, predictions[c.name], clean, labels, classes) for c in conditions]


def to_json(results: Sequence[ConditionResult]) -> dict:
    """What metrics.json and bundle.json keep."""
    return {"battery_version": BATTERY_VERSION, "conditions": [asdict(r) for r in results]}


def format_table(results: Sequence[ConditionResult], classes: Sequence[str]) -> str:
    """Accuracy, per-class recall, malignant called Benign and agreement, one line per condition."""
    header = f"{'condition':<12} {'accuracy':>8} " + " ".join(f"{c[:8]:>8}" for c in classes)
    header += f" {'malig->Benign':>13} {'agrees':>7}  what"
    lines = [header]
    for r in results:
        recalls = " ".join(
            f"{'n/a' if r.per_class_recall[c] is None else f'{r.per_class_recall[c]:.1%}':>8}"
            for c in classes
        )
        lines.append(
            f"{r.name:<12} {r.accuracy:>8.1%} {recalls} {f'{r.malignant_called_benign}/{r.malignant}':>13} "
            f"{r.agreement_with_clean:>7.1%}  {r.what}"
        )
    return "\n".join(lines)
