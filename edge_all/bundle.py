"""The model bundle: a self-describing directory (model.tflite, labels.txt, bundle.json).

convert/ writes it; the device reads it and refuses it when the model file is not the one the
manifest describes, so a half-copied or swapped model never classifies a patient's slide.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_all.digest import sha256_file
from edge_all.errors import EdgeAllError
from edge_all.images import Preprocessing
from edge_all.labels import LabelsError, read_labels
from edge_all.tensors import TensorSpec

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: one output, no referral, calibration or training record
MODEL_FILE = "model.tflite"
EDGETPU_MODEL_FILE = "model_edgetpu.tflite"
LABELS_FILE = "labels.txt"
MANIFEST_FILE = "bundle.json"
REFERRAL_FILE = "referral.npz"  # the unfamiliarity detector (edge_all.referral)
HEATMAP_FILE = "heatmap.npz"  # the classifier's last layer, for class activation maps
DEFAULT_CONFIDENCE_THRESHOLD = 0.6
OUTPUT_ROLES = ("scores", "features", "feature_map")


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
    def from_dict(cls, data: dict[str, Any]) -> OutputSpec:
        return cls(str(data.get("name", "")), TensorSpec.from_dict(data), str(data["kind"]))


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

    @property
    def scores(self) -> OutputSpec:
        return self.outputs["scores"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preprocessing"] = self.preprocessing.to_dict()
        data["outputs"] = {role: output.to_dict() for role, output in self.outputs.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleManifest:
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise BundleError(
                f"bundle format version {version!r} is not supported (this edge-all reads "
                f"{', '.join(map(str, READABLE_VERSIONS))})"
            )
        if version == 1:  # one output tensor, and whether it held logits or probabilities
            outputs = scores_only(TensorSpec.from_dict(data["output"]), str(data["outputs"]))
        else:
            outputs = {role: OutputSpec.from_dict(spec) for role, spec in data["outputs"].items()}
        unknown = sorted(set(outputs) - set(OUTPUT_ROLES))
        if "scores" not in outputs or unknown:
            raise BundleError(f"outputs must name the scores and only {OUTPUT_ROLES} (got {sorted(outputs)})")
        trained_on, calibration, referral = (
            data.get("trained_on"),
            data.get("calibration"),
            data.get("referral"),
        )
        return cls(
            labels=[str(label) for label in data["labels"]],
            input=TensorSpec.from_dict(data["input"]),
            outputs=outputs,
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            precision=str(data["precision"]),
            model_sha256=str(data["model_sha256"]),
            model_bytes=int(data["model_bytes"]),
            float_model_bytes=data.get("float_model_bytes"),
            source_run=data.get("source_run"),
            accuracy_check=data.get("accuracy_check"),
            created=str(data["created"]),
            edge_all_version=str(data["edge_all_version"]),
            edgetpu_model_sha256=data.get("edgetpu_model_sha256"),
            trained_on=TrainedOn(**trained_on) if trained_on else None,
            calibration=Calibration(float(calibration["temperature"]), dict(calibration.get("details", {})))
            if calibration
            else None,
            referral=Referral(
                str(referral["sha256"]), str(referral["method"]), dict(referral.get("details", {}))
            )
            if referral
            else None,
            heatmap_sha256=data.get("heatmap_sha256"),
            confidence_threshold=float(data.get("confidence_threshold", DEFAULT_CONFIDENCE_THRESHOLD)),
            format_version=version,
            extra=dict(data.get("extra", {})),
        )


def is_bundle(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST_FILE).is_file()


def write_manifest(bundle_dir: str | Path, manifest: BundleManifest) -> None:
    Path(bundle_dir, MANIFEST_FILE).write_text(
        json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8"
    )


def read_manifest(bundle_dir: str | Path) -> BundleManifest:
    """Read bundle.json and check it against the model and labels files beside it."""
    bundle_dir = Path(bundle_dir)
    manifest_path = bundle_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{bundle_dir}: not a bundle (no {MANIFEST_FILE})")
    try:
        manifest = BundleManifest.from_dict(json.loads(manifest_path.read_text(encoding="utf-8")))
    except BundleError as exc:
        raise BundleError(f"{manifest_path}: {exc}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{manifest_path}: malformed manifest ({exc!r})") from None
    verify_file(bundle_dir / MODEL_FILE, manifest.model_sha256)
    edgetpu_model = bundle_dir / EDGETPU_MODEL_FILE
    if edgetpu_model.exists():  # every model file in a bundle is verified, or the bundle is refused
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
    labels_path = bundle_dir / LABELS_FILE
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


def verify_file(path: Path, expected_sha256: str) -> None:
    if not path.is_file():
        raise BundleError(f"{path}: missing from the bundle")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise BundleError(
            f"{path}: sha256 {actual[:12]}... does not match bundle.json ({expected_sha256[:12]}...); "
            "the model file was changed or damaged, refusing to use it"
        )
