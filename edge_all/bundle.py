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

FORMAT_VERSION = 1
MODEL_FILE = "model.tflite"
EDGETPU_MODEL_FILE = "model_edgetpu.tflite"
LABELS_FILE = "labels.txt"
MANIFEST_FILE = "bundle.json"


class BundleError(EdgeAllError):
    """A bundle that is missing, malformed or does not match its manifest."""


@dataclass(frozen=True)
class BundleManifest:
    """Everything bundle.json records; `accuracy_check` is convert's report, kept verbatim."""

    labels: list[str]
    input: TensorSpec
    output: TensorSpec
    preprocessing: Preprocessing
    precision: str  # "int8", "float16" or "float32"
    model_sha256: str
    model_bytes: int
    float_model_bytes: int | None
    source_run: str | None
    accuracy_check: dict[str, Any] | None
    created: str
    edge_all_version: str
    outputs: str = "probabilities"  # or "logits": the runtime applies softmax only to logits
    edgetpu_model_sha256: str | None = None
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preprocessing"] = self.preprocessing.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleManifest:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise BundleError(
                f"bundle format version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        return cls(
            labels=[str(label) for label in data["labels"]],
            input=TensorSpec.from_dict(data["input"]),
            output=TensorSpec.from_dict(data["output"]),
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            precision=str(data["precision"]),
            model_sha256=str(data["model_sha256"]),
            model_bytes=int(data["model_bytes"]),
            float_model_bytes=data.get("float_model_bytes"),
            source_run=data.get("source_run"),
            accuracy_check=data.get("accuracy_check"),
            created=str(data["created"]),
            edge_all_version=str(data["edge_all_version"]),
            outputs=str(data.get("outputs", "probabilities")),
            edgetpu_model_sha256=data.get("edgetpu_model_sha256"),
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
