"""The model bundle: a self-describing directory (model.tflite, labels.txt, bundle.json).

convert/ writes it; the device reads it and refuses it when the model file is not the one the
manifest describes, so a half-copied or swapped model never classifies a patient's slide.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_all.digest import SHA256_HEX, sha256_file
from edge_all.errors import EdgeAllError
from edge_all.jsonfile import JsonObject, read_json_object
from edge_all.regular_files import regular_file_inside
from edge_all.runtime.images import Preprocessing
from edge_all.runtime.labels import LabelsError, read_labels
from edge_all.runtime.tensors import TensorSpec
from edge_all.safe_write import write_file

FORMAT_VERSION = 2  # what convert writes for a whole-field model; a cell model's bundle is version 3
CELLS_FORMAT_VERSION = 3
# version 1: one output, no referral, calibration or training record; 3: a cell model (reads, scale,
# cell_crop, stain, label_roles)
READABLE_VERSIONS = (1, 2, 3)
MODEL_FILE = "model.tflite"
EDGETPU_MODEL_FILE = "model_edgetpu.tflite"
LABELS_FILE = "labels.txt"
MANIFEST_FILE = "bundle.json"
REFERRAL_FILE = "referral.npz"  # the unfamiliarity detector (edge_all.runtime.referral)
HEATMAP_FILE = "heatmap.npz"  # the classifier's last layer, for class activation maps
BLASTS_FILE = "blasts.npz"  # the home lab's test-split blasts, for commissioning (edge_all.triage.blasts)
DEFAULT_CONFIDENCE_THRESHOLD = 0.6
OUTPUT_ROLES = ("scores", "features", "feature_map")
# What a model reads: the whole image as given (format 1/2 bundles, plain .tflite files), or crops
# centred on each white cell at the bundle's scale (format 3).
READS = ("field", "cells")
# Each label's role in the screening call (format 3): ALL-like; not ALL-like (Benign and the normal
# white cells); always referred; not a white cell at all (platelets, debris: not counted).
LABEL_ROLES = ("all_like", "not_all_like", "refer", "not_a_white_cell")
STAIN_METHODS = ("none", "reinhard")  # Macenko's statistics are not in the format yet
FILE_NAMES = {  # what each file of a bundle is called in a refusal
    MANIFEST_FILE: "bundle manifest",
    MODEL_FILE: "model file",
    EDGETPU_MODEL_FILE: "Edge TPU model file",
    LABELS_FILE: "labels file",
    REFERRAL_FILE: "referral detector",
    HEATMAP_FILE: "heat-map weights",
    BLASTS_FILE: "home-lab blasts",
}


class BundleError(EdgeAllError):
    """A bundle that is missing, malformed or does not match its manifest."""


@dataclass(frozen=True)
class OutputSpec:
    """One output of the model and what it holds.

    `scores`: one value per label ("logits", or "probabilities" when the model ends in softmax);
    `features`: the pooled feature vector the referral detector models; `feature_map`: the last
    convolutional feature map (GAP heads), from which class activation maps are made.
    """

    name: str  # the tensor's name in the .tflite; "" when not recorded (matched by shape then)
    spec: TensorSpec
    kind: str = "features"  # scores: "logits" or "probabilities"; otherwise the role's name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, **asdict(self.spec)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputSpec:
        doc = JsonObject.of(data, "output", BundleError)
        return cls(doc.text("name", ""), TensorSpec.from_dict(doc), doc.text("kind"))


def scores_only(spec: TensorSpec, kind: str = "probabilities") -> dict[str, OutputSpec]:
    """The outputs of a model with one output tensor: its class scores."""
    return {"scores": OutputSpec("", spec, kind)}


@dataclass(frozen=True)
class TrainedOn:
    """What the model learned from: a synthetic demo bundle says so, and the runtime warns about it."""

    data: str  # "real" or "synthetic"
    dataset: str  # where, in words (the dataset folder of the training run)
    images: dict[str, int] = field(default_factory=dict)  # per split part

    @property
    def synthetic(self) -> bool:
        return self.data == "synthetic"


@dataclass(frozen=True)
class Calibration:
    """Temperature scaling: calibrated probabilities are softmax(logits / temperature)."""

    temperature: float
    details: dict[str, Any] = field(default_factory=dict)  # what it was fitted on, ECE before/after


@dataclass(frozen=True)
class Referral:
    """The unfamiliarity detector shipped in REFERRAL_FILE; 1.0 on its scale is the referral threshold."""

    sha256: str
    method: str
    details: dict[str, Any] = field(default_factory=dict)  # target rate, validation rate, dims...


@dataclass(frozen=True)
class Scale:
    """The physical scale every image is resampled to before anything reads it (format 3)."""

    um_per_px: float


@dataclass(frozen=True)
class CellCrop:
    """The side of the square crop centred on each white cell, in pixels at the bundle's scale."""

    size_px: int


@dataclass(frozen=True)
class Stain:
    """Stain normalisation applied to the resampled image before the crops, as in training.

    `method` "none", or "reinhard" with torchstain's numpy backend statistics: the mean and spread of
    each CIE L*a*b* channel (L 0-100, a and b about 0) of the training images' target.
    """

    method: str
    library: str | None = None
    target_means: tuple[float, float, float] | None = None
    target_stds: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class BundleManifest:
    """Everything bundle.json records; `accuracy_check` is convert's report, kept verbatim."""

    labels: list[str]
    input: TensorSpec
    outputs: dict[str, OutputSpec]  # by role, see OUTPUT_ROLES; "scores" is always there
    preprocessing: Preprocessing
    precision: str  # "int8", "float16" or "float32"
    model_sha256: str
    model_bytes: int
    float_model_bytes: int | None
    source_run: str | None
    accuracy_check: dict[str, Any] | None
    created: str
    edge_all_version: str
    edgetpu_model_sha256: str | None = None
    trained_on: TrainedOn | None = None  # None: not recorded (a version 1 bundle)
    calibration: Calibration | None = None
    referral: Referral | None = None
    heatmap_sha256: str | None = None  # of HEATMAP_FILE, when the bundle can draw heat maps
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD  # below it a result is "uncertain"
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    reads: str = "field"  # READS; "cells" needs scale, cell_crop, stain and label_roles (format 3)
    scale: Scale | None = None
    cell_crop: CellCrop | None = None
    stain: Stain | None = None
    label_roles: dict[str, str] = field(default_factory=dict)  # label -> one of LABEL_ROLES
    blasts_sha256: str | None = None  # of BLASTS_FILE (format 3): commissioning checks the threshold with it

    @property
    def scores(self) -> OutputSpec:
        return self.outputs["scores"]

    @property
    def reads_cells(self) -> bool:
        return self.reads == "cells"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preprocessing"] = self.preprocessing.to_dict()
        data["outputs"] = {role: output.to_dict() for role, output in self.outputs.items()}
        if self.format_version == 1:  # one output tensor, and what its scores are (as version 1 says it)
            data["output"] = asdict(self.scores.spec)
            data["outputs"] = self.scores.kind
        if self.format_version < CELLS_FORMAT_VERSION:  # the keys formats 1 and 2 never had
            for key in ("reads", "scale", "cell_crop", "stain", "label_roles", "blasts_sha256"):
                del data[key]
        else:  # a field model's version 3 leaves out what it does not have, as a reader expects
            for key in ("scale", "cell_crop", "stain", "label_roles"):
                if not data[key]:
                    del data[key]
            if self.stain is not None:
                data["stain"] = {key: value for key, value in data["stain"].items() if value is not None}
        return data

    def describe(self) -> dict[str, Any]:
        """What people are told about the bundle, JSON-friendly: the one description of a model's bundle
        (`edge-all info` shows it, the station's Station page and `edge-all benchmark` format it)."""
        description: dict[str, Any] = {
            "format_version": self.format_version,
            "precision": self.precision,
            "model_sha256": self.model_sha256,
            "source_run": self.source_run,
            "created": self.created,
            "edge_all_version": self.edge_all_version,
            "trained_on": asdict(self.trained_on) if self.trained_on else None,
            "confidence_threshold": self.confidence_threshold,
            "calibration": asdict(self.calibration) if self.calibration else None,
            "referral": asdict(self.referral) if self.referral else None,
            "heatmaps": self.heatmap_sha256 is not None,  # it carries the weights to draw them
            "accuracy_check": self.accuracy_check,
        }
        if self.format_version >= CELLS_FORMAT_VERSION:  # what a format-3 bundle adds
            description.update(
                reads=self.reads,
                scale_um_per_px=self.scale.um_per_px if self.scale else None,
                cell_crop_px=self.cell_crop.size_px if self.cell_crop else None,
                stain=self.stain.method if self.stain else None,
                label_roles=dict(self.label_roles),
            )
        return description

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BundleManifest:
        """From bundle.json as read by read_manifest (or a plain dict); every value's type is checked."""
        doc = JsonObject.of(data, MANIFEST_FILE, BundleError).require_finite()
        version = doc.value("format_version", None)
        if isinstance(version, bool) or not isinstance(version, int) or version not in READABLE_VERSIONS:
            readable = ", ".join(map(str, READABLE_VERSIONS))
            raise doc.fail("format_version", f"{version!r} is not supported (this edge-all reads {readable})")
        if version == 1:  # one output tensor, and whether it held logits or probabilities
            outputs = scores_only(
                TensorSpec.from_dict(doc.object("output")), doc.text("outputs", "probabilities")
            )
        else:
            described = doc.object("outputs")
            outputs = {role: OutputSpec.from_dict(described.object(role)) for role in described}
        unknown = sorted(set(outputs) - set(OUTPUT_ROLES))
        if "scores" not in outputs or unknown:
            raise doc.fail("outputs", f"must name the scores and only {OUTPUT_ROLES} (got {sorted(outputs)})")
        accuracy = doc.object("accuracy_check", None)
        labels = doc.texts("labels")
        if not labels:
            raise doc.fail("labels", "a bundle needs at least one label")
        cells = _cells_part(doc, labels) if version >= CELLS_FORMAT_VERSION else {}
        trained_on = doc.object("trained_on", None)
        calibration = doc.object("calibration", None)
        referral = doc.object("referral", None)
        return cls(
            labels=labels,
            input=TensorSpec.from_dict(doc.object("input")),
            outputs=outputs,
            preprocessing=Preprocessing.from_dict(doc.object("preprocessing")),
            precision=doc.text("precision"),
            model_sha256=_sha256(doc, "model_sha256"),
            model_bytes=doc.integer("model_bytes", minimum=0),
            float_model_bytes=doc.integer("float_model_bytes", None, minimum=0),
            source_run=doc.text("source_run", None),
            accuracy_check=accuracy.to_dict() if accuracy is not None else None,
            created=doc.text("created"),
            edge_all_version=doc.text("edge_all_version"),
            edgetpu_model_sha256=_sha256(doc, "edgetpu_model_sha256", None),
            trained_on=_trained_on(trained_on) if trained_on is not None else None,
            calibration=Calibration(
                calibration.number("temperature", minimum=1e-6),
                calibration.object("details", JsonObject({})).to_dict(),
            )
            if calibration is not None
            else None,
            referral=Referral(
                _sha256(referral, "sha256"),
                referral.text("method"),
                referral.object("details", JsonObject({})).to_dict(),
            )
            if referral is not None
            else None,
            heatmap_sha256=_sha256(doc, "heatmap_sha256", None),
            confidence_threshold=doc.number(
                "confidence_threshold", DEFAULT_CONFIDENCE_THRESHOLD, minimum=0.0
            ),
            format_version=version,
            extra=doc.object("extra", JsonObject({})).to_dict(),
            **cells,
        )


def _cells_part(doc: JsonObject, labels: list[str]) -> dict[str, Any]:
    """Format 3's keys: what the model reads, and for a cell model its scale, crop, stain and roles.

    Every label needs a role (a cell model that cannot say what a class means for the screening call
    is refused at load, not guessed at); a field model may leave label_roles out.
    """
    reads = doc.text("reads")
    blasts = doc.text("blasts_sha256", None)
    if reads not in READS:
        raise doc.fail("reads", f"{reads!r} is not one of {', '.join(READS)}")
    roles_doc = doc.object("label_roles") if reads == "cells" else doc.object("label_roles", None)
    roles = {label: roles_doc.text(label) for label in roles_doc} if roles_doc is not None else {}
    for label, role in roles.items():
        if role not in LABEL_ROLES:
            raise doc.fail(
                "label_roles", f"{label!r} has an unknown role {role!r} (known: {', '.join(LABEL_ROLES)})"
            )
        if label not in labels:
            raise doc.fail("label_roles", f"{label!r} is not one of the labels")
    missing = [label for label in labels if label not in roles]
    if roles_doc is not None and missing:
        raise doc.fail("label_roles", f"label {missing[0]!r} has no role (one of {', '.join(LABEL_ROLES)})")
    if reads == "field":
        return {"reads": reads, "label_roles": roles, "blasts_sha256": blasts}
    stain = doc.object("stain")
    method = stain.text("method")
    if method not in STAIN_METHODS:
        raise stain.fail(
            "method", f"{method!r} is not supported (this edge-all applies {', '.join(STAIN_METHODS)})"
        )
    means = _three(stain, "target_means") if method != "none" else None
    stds = _three(stain, "target_stds", minimum=1e-6) if method != "none" else None
    return {
        "reads": reads,
        "scale": Scale(doc.object("scale").number("um_per_px", minimum=1e-3)),
        "cell_crop": CellCrop(doc.object("cell_crop").integer("size_px", minimum=8)),
        "stain": Stain(method, stain.text("library", None), means, stds),
        "label_roles": roles,
        "blasts_sha256": blasts,
    }


def _sha256(doc: JsonObject, key: str, default: Any = ...) -> Any:
    """A checksum as bundle.json records it (64 lowercase hex digits), or `default` when absent.

    Checked here, not only against the file: an Edge TPU model's sha256 is compared only when the
    file is there, so a damaged one would otherwise pass unnoticed until it is.
    """
    value = doc.text(key) if default is ... else doc.text(key, default)
    if value is not None and not SHA256_HEX.fullmatch(value):
        raise doc.fail(key, f"expected a sha256 (64 lowercase hex digits), got {value[:80]!r}")
    return value


def _three(doc: JsonObject, key: str, minimum: float | None = None) -> tuple[float, float, float]:
    """Three finite numbers, one per LAB channel."""
    values = doc.value(key)
    good = (
        isinstance(values, list)
        and len(values) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    )
    if not good:
        raise doc.fail(key, "expected a list of 3 finite numbers (L, a, b)")
    if minimum is not None and min(values) < minimum:
        raise doc.fail(key, f"every item must be at least {minimum:g}, not {values}")
    return float(values[0]), float(values[1]), float(values[2])


def trained_on_text(trained_on: Mapping[str, Any] | None) -> str | None:
    """What a bundle was trained on, in words, from its description (None: not recorded)."""
    return f"{trained_on['data']} images, {trained_on['dataset']}" if trained_on else None


def _trained_on(doc: JsonObject) -> TrainedOn:
    images = doc.object("images", JsonObject({}))
    return TrainedOn(
        doc.text("data"), doc.text("dataset"), {part: images.integer(part, minimum=0) for part in images}
    )


def is_bundle(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST_FILE).is_file()


def write_manifest(bundle_dir: str | Path, manifest: BundleManifest) -> None:
    text = json.dumps(manifest.to_dict(), indent=2) + "\n"
    write_file(Path(bundle_dir, MANIFEST_FILE), text, "the bundle manifest")


def read_manifest(bundle_dir: str | Path) -> BundleManifest:
    """Read bundle.json and check it against the model and labels files beside it."""
    bundle_dir = Path(bundle_dir)
    manifest_path = bundle_dir / MANIFEST_FILE
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise BundleError(f"{bundle_dir}: not a bundle (no {MANIFEST_FILE})")
    bundle_file(bundle_dir, MANIFEST_FILE)
    manifest = BundleManifest.from_dict(read_json_object(manifest_path, "bundle manifest", BundleError))
    verify_file(bundle_dir / MODEL_FILE, manifest.model_sha256)
    edgetpu_model = bundle_dir / EDGETPU_MODEL_FILE
    # Every model file in a bundle is verified, or the bundle is refused.
    if edgetpu_model.exists() or edgetpu_model.is_symlink():
        if not manifest.edgetpu_model_sha256:
            raise BundleError(
                f"{edgetpu_model}: {MANIFEST_FILE} records no sha256 for it; refusing an unverified "
                "model (convert again with --edgetpu, or remove the file)"
            )
        verify_file(edgetpu_model, manifest.edgetpu_model_sha256)
    if manifest.referral is not None:
        verify_file(bundle_dir / REFERRAL_FILE, manifest.referral.sha256)
    if manifest.heatmap_sha256 is not None:
        verify_file(bundle_dir / HEATMAP_FILE, manifest.heatmap_sha256)
    if manifest.blasts_sha256 is not None:
        verify_file(bundle_dir / BLASTS_FILE, manifest.blasts_sha256)
    labels_path = bundle_file(bundle_dir, LABELS_FILE)
    try:
        labels = read_labels(labels_path)
    except LabelsError as exc:
        raise BundleError(str(exc)) from None
    if labels != manifest.labels:
        difference = _first_difference(labels, manifest.labels)
        raise BundleError(f"{labels_path}: labels differ from {MANIFEST_FILE} ({difference})")
    return manifest


def _first_difference(found: list[str], recorded: list[str]) -> str:
    if len(found) != len(recorded):
        return f"{len(found)} labels, {len(recorded)} recorded"
    index = next(i for i, (a, b) in enumerate(zip(found, recorded, strict=True)) if a != b)
    return f"label {index} is {found[index]!r}, recorded {recorded[index]!r}"


def bundle_file(bundle_dir: Path, name: str) -> Path:
    """BUNDLE_DIR/NAME, once it is known to be a regular file inside the bundle.

    A sha256 proves what a file holds, not where it lies: labels.txt linked to a file elsewhere
    whose content matches would otherwise be accepted, and read whatever it becomes later. A link
    may lead only to another file of the bundle (the bundle dir itself may be a link, as a
    `current` link to a version is).
    """
    path = bundle_dir / name
    if not path.exists() and not path.is_symlink():
        raise BundleError(f"{path}: missing from the bundle")
    regular_file_inside(path, bundle_dir, FILE_NAMES.get(name, "bundle file"), BundleError)
    return path


def verify_file(path: Path, expected_sha256: str) -> None:
    """Refuse PATH unless it is a regular file inside its bundle whose sha256 is the one recorded."""
    bundle_file(path.parent, path.name)
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise BundleError(
            f"{path}: sha256 {actual[:12]}... does not match bundle.json ({expected_sha256[:12]}...); "
            "the model file was changed or damaged, refusing to use it"
        )
