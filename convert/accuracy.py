"""The accuracy check: the float Keras model against the converted model, on the same images.

The converted model runs through the device runtime's own Classifier (edge_all.runtime.images preprocessing,
the same interpreter), so the gate measures exactly what ships. Both models see pixels prepared by
edge_all.runtime.images.prepare with the bundle's recorded Preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convert.errors import ConvertError
from convert.progress import progress
from edge_all.runtime.images import ImageError, Preprocessing, prepare
from edge_all.runtime.tensors import looks_like_probabilities, softmax
from training.dataset import DatasetError, Split, discover, unique_images

# The public ALL dataset has no patient ids: every split is by image, and says so.
CAVEAT = (
    "Image-level evaluation: the public ALL dataset has no patient ids, so these numbers overstate "
    "how the model does on new patients' slides. A screening aid, not a diagnosis."
)
FLOAT_BATCH = 32


@dataclass(frozen=True)
class EvalItem:
    """One labelled image of the evaluation set; `file` is how reports name it."""

    file: str
    path: Path
    label: str


@dataclass
class ModelResult:
    """How one model did: accuracy, recall of each class, and the confusion matrix (rows: truth)."""

    name: str
    accuracy: float
    correct: int
    per_class_recall: dict[str, float | None]
    confusion: list[list[int]]


@dataclass
class AccuracyReport:
    """Everything the gate decided on; saved as JSON and embedded in bundle.json."""

    eval_set: str
    eval_root: str  # the folder the prediction file names are relative to
    labels: list[str]
    images: int
    support: dict[str, int]
    float_model: ModelResult
    converted: ModelResult
    drop_pp: float  # float accuracy minus converted accuracy, in percentage points
    max_drop_pp: float
    passed: bool
    top1_agreement: float
    # The paired view behind the drop: of the images whose class changed, how many became right/wrong.
    changed: dict[str, int]
    mean_abs_prob_diff: float
    predictions: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)
    conversion: dict[str, Any] = field(default_factory=dict)  # precision, sizes, timings, calibration
    caveat: str = CAVEAT
    notes: list[str] = field(default_factory=list)  # anything else a reader must know to trust the numbers
    robustness: dict[str, Any] = field(default_factory=dict)  # convert.battery_check: the battery gate
    referral: dict[str, Any] = field(default_factory=dict)  # how many images the bundle refers
    calibration: dict[str, Any] = field(default_factory=dict)  # temperature, ECE before and after

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def items_from_split(split: Split) -> list[EvalItem]:
    """The run's test split, in file order."""
    return [EvalItem(r.file, split.path(r), r.label) for r in split.part("test")]


def items_from_folder(root: str | Path, labels: Sequence[str]) -> tuple[list[EvalItem], list[str]]:
    """Every distinct Original (or plain) image of a labelled folder, as `edge-all evaluate --data` scores it.

    Byte-identical copies count once (the public dataset has 40 such pairs in Pro).
    """
    try:
        dataset = discover(root, include_segmented=False)
    except DatasetError as exc:
        raise ConvertError(str(exc)) from None
    unknown = sorted({r.label for r in dataset.images} - set(labels))
    if unknown:
        raise ConvertError(f"{root}: classes {unknown} are not among the model's labels {list(labels)}")
    items = [EvalItem(r.file, Path(root) / r.file, r.label) for r in unique_images(dataset.images)]
    return items, [f"{Path(root) / s.file}: {s.reason}" for s in dataset.skipped]


def load_pixels(
    items: list[EvalItem], size: tuple[int, int], prep: Preprocessing, show_progress: bool = True
) -> tuple[np.ndarray, list[EvalItem], list[str]]:
    """The model-sized pixels of every readable item (as the device prepares them), the items, the skips."""
    height, width = size
    pixels: list[np.ndarray] = []
    readable: list[EvalItem] = []
    skipped: list[str] = []
    for item in progress(items, "Reading the check's images", len(items), show_progress):
        try:
            pixels.append(prepare(item.path, height, width, prep))
        except ImageError as exc:
            skipped.append(str(exc))
            continue
        readable.append(item)
    stacked = np.stack(pixels) if pixels else np.zeros((0, height, width, 3), np.uint8)
    return stacked, readable, skipped


def float_probabilities(model: Any, pixels: np.ndarray) -> np.ndarray:
    """The Keras model's class probabilities for (N, H, W, 3) uint8 pixels, in batches."""
    rows = [
        np.asarray(model.predict_on_batch(pixels[i : i + FLOAT_BATCH].astype(np.float32)), dtype=np.float64)
        for i in range(0, len(pixels), FLOAT_BATCH)
    ]
    probabilities = np.concatenate(rows) if rows else np.zeros((0, 0))
    return probabilities if looks_like_probabilities(probabilities) else softmax(probabilities)


@dataclass(frozen=True)
class ConvertedOutputs:
    """What the device runtime answers for each image: probabilities and (with a detector) unfamiliarity."""

    probabilities: np.ndarray  # (N, C)
    unfamiliarity: np.ndarray | None  # (N,), None without a referral detector


def converted_outputs(
    classifier: Any, pixels: np.ndarray, label: str = "", show: bool = False
) -> ConvertedOutputs:
    """The converted model through the device runtime's Classifier, on prepared pixels."""
    predictions = [classifier.predict_pixels(x) for x in progress(pixels, label, len(pixels), show)]
    probabilities = np.stack([p.probabilities for p in predictions]) if predictions else np.zeros((0, 0))
    scores = [p.unfamiliarity for p in predictions]
    unfamiliarity = np.array(scores, np.float64) if predictions and scores[0] is not None else None
    return ConvertedOutputs(probabilities.astype(np.float64), unfamiliarity)


def _model_result(name: str, labels: Sequence[str], truth: np.ndarray, predicted: np.ndarray) -> ModelResult:
    n = len(labels)
    confusion = np.zeros((n, n), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    recall: dict[str, float | None] = {}
    for i, label in enumerate(labels):
        support = int(confusion[i].sum())
        recall[label] = float(confusion[i, i] / support) if support else None
    correct = int(np.trace(confusion))
    return ModelResult(name, correct / len(truth), correct, recall, confusion.tolist())


def compare(
    labels: Sequence[str],
    items: list[EvalItem],
    float_probs: np.ndarray,
    converted_probs: np.ndarray,
    max_drop_pp: float,
    names: tuple[str, str],
    eval_set: str,
    eval_root: Path,
    skipped: list[str] | None = None,
    unfamiliarity: np.ndarray | None = None,
) -> AccuracyReport:
    """Score both models on the same items and decide the gate (drop in points <= max_drop_pp)."""
    if not items:
        raise ConvertError(f"{eval_set}: no readable images to check the converted model on")
    if float_probs.shape != converted_probs.shape or float_probs.shape != (len(items), len(labels)):
        raise ConvertError(
            f"model outputs {float_probs.shape} and {converted_probs.shape} do not match "
            f"{len(items)} images x {len(labels)} classes"
        )
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index[item.label] for item in items])
    float_top = float_probs.argmax(axis=1)
    converted_top = converted_probs.argmax(axis=1)
    float_result = _model_result(names[0], labels, truth, float_top)
    converted_result = _model_result(names[1], labels, truth, converted_top)
    drop_pp = 100.0 * (float_result.correct - converted_result.correct) / len(items)
    predictions = [
        {
            "file": item.file,
            "label": item.label,
            "float": labels[f],
            "converted": labels[c],
            "converted_confidence": round(float(converted_probs[k, c]), 6),
            "unfamiliarity": None if unfamiliarity is None else round(float(unfamiliarity[k]), 4),
        }
        for k, (item, f, c) in enumerate(zip(items, float_top, converted_top, strict=True))
    ]
    return AccuracyReport(
        eval_set=eval_set,
        eval_root=str(eval_root),
        labels=list(labels),
        images=len(items),
        support={label: int((truth == i).sum()) for i, label in enumerate(labels)},
        float_model=float_result,
        converted=converted_result,
        drop_pp=round(drop_pp, 6),
        max_drop_pp=float(max_drop_pp),
        passed=drop_pp <= max_drop_pp,
        top1_agreement=float(np.mean(float_top == converted_top)),
        changed={
            "images": int(np.sum(float_top != converted_top)),
            "became_right": int(np.sum((float_top != truth) & (converted_top == truth))),
            "became_wrong": int(np.sum((float_top == truth) & (converted_top != truth))),
        },
        mean_abs_prob_diff=float(np.mean(np.abs(float_probs - converted_probs))),
        predictions=predictions,
        skipped=list(skipped or []),
    )
