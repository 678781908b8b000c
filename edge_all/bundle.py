"""The model bundle: a self-describing directory (model.tflite, labels.txt, bundle.json).

convert/ writes it; the device reads it and refuses it when the model file is not the one the
manifest describes, so a half-copied or swapped model never classifies a patient's slide.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_all.digest import sha256_file
from edge_all.errors import EdgeAllError
from edge_all.images import Preprocessing
from edge_all.jsonfile import JsonObject, read_json_object
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
    def from_dict(cls, data: Mapping[str, Any]) -> BundleManifest:
        """From bundle.json as read by read_manifest (or a plain dict); every value's type is checked."""
        doc = JsonObject.of(data, MANIFEST_FILE, BundleError)
        version = doc.value("format_version", None)
        if version != FORMAT_VERSION:
            raise doc.fail("format_version", f"{version!r} is not supported (expected {FORMAT_VERSION})")
        float_bytes = doc.integer("float_model_bytes", None, minimum=0)
        edgetpu_sha256 = doc.text("edgetpu_model_sha256", None)
        accuracy = doc.object("accuracy_check", None)
        return cls(
            labels=doc.texts("labels"),
            input=TensorSpec.from_dict(doc.object("input")),
            output=TensorSpec.from_dict(doc.object("output")),
            preprocessing=Preprocessing.from_dict(doc.object("preprocessing")),
            precision=doc.text("precision"),
            model_sha256=doc.text("model_sha256"),
            model_bytes=doc.integer("model_bytes", minimum=0),
            float_model_bytes=float_bytes,
            source_run=doc.text("source_run", None),
            accuracy_check=accuracy.to_dict() if accuracy is not None else None,
            created=doc.text("created"),
            edge_all_version=doc.text("edge_all_version"),
            outputs=doc.text("outputs", "probabilities"),
            edgetpu_model_sha256=edgetpu_sha256,
            format_version=version,
            extra=doc.object("extra", JsonObject({})).to_dict(),
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
    manifest = BundleManifest.from_dict(read_json_object(manifest_path, "bundle manifest", BundleError))
    verify_file(bundle_dir / MODEL_FILE, manifest.model_sha256)
    if manifest.edgetpu_model_sha256 and (bundle_dir / EDGETPU_MODEL_FILE).exists():
        verify_file(bundle_dir / EDGETPU_MODEL_FILE, manifest.edgetpu_model_sha256)
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
