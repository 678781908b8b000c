"""What the Station page shows: the model (verified against its sha256), the camera, the disk.

The model is verified once and again only when its files change, so the page stays fast on a Pi
(hashing a ResNet50 model on every view would take a noticeable part of a second).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_all.capture.spec import SOURCE_KINDS
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import (
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    is_bundle,
    read_manifest,
    trained_on_text,
)

LOW_DISK_BYTES = 2 * 1024**3  # below this the Station page warns (a day of frames is 1 to 3 GB)


@dataclass(frozen=True)
class ModelFacts:
    path: str
    name: str
    kind: str  # "bundle" or "plain .tflite"
    verified: bool  # the model file matches the sha256 its bundle.json records
    problem: str | None
    sha256: str | None
    precision: str | None = None
    created: str | None = None
    version: str | None = None  # the edge-all version that made the bundle
    format_version: int | None = None
    trained_on: str | None = None
    synthetic: bool = False  # a demo model: never for patients
    source_run: str | None = None
    labels: tuple[str, ...] = ()


def read_model_facts(path: Path) -> ModelFacts:
    """The Station page's facts: the bundle's own description (BundleManifest.describe) once its
    files are verified, without loading an interpreter (a capture may be holding the model)."""
    resolved = path.resolve()
    name = resolved.name
    if not is_bundle(path):
        if not path.is_file():
            return ModelFacts(str(path), name, "missing", False, f"{path}: no model here", None)
        return ModelFacts(
            str(path), name, "plain .tflite", False, "a plain model: no bundle.json to verify it against",
            sha256_file(path),
        )  # fmt: skip
    try:
        manifest = read_manifest(path)
    except BundleError as exc:
        return ModelFacts(str(path), name, "bundle", False, str(exc), None)
    described = manifest.describe()
    trained_on = trained_on_text(described["trained_on"])
    said = manifest.extra.get("trained_on")
    if trained_on is None and isinstance(said, dict) and {"data", "dataset"} <= said.keys():
        trained_on = trained_on_text(said)
    elif trained_on is None and isinstance(said, str):  # said in words by a hand-made bundle
        trained_on = said
    return ModelFacts(
        path=str(path),
        name=name,
        kind="bundle",
        verified=True,
        problem=None,
        sha256=described["model_sha256"],
        precision=described["precision"],
        created=described["created"],
        version=described["edge_all_version"],
        format_version=described["format_version"],
        trained_on=trained_on,
        synthetic=manifest.trained_on.synthetic
        if manifest.trained_on is not None
        else "synthetic" in (trained_on or "").lower(),
        source_run=described["source_run"],
        labels=tuple(manifest.labels),
    )


class ModelFactsCache:
    """The model's facts, read again only when a file of the bundle changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple | None = None
        self._facts: ModelFacts | None = None
        self._lock = threading.Lock()

    def _stamp(self) -> tuple:
        stamp = []
        for file in (self.path / MODEL_FILE, self.path / MANIFEST_FILE, self.path):
            try:
                stat = file.stat()
                stamp.append((str(file.resolve()), stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamp.append((str(file), None, None))
        return tuple(stamp)

    def get(self) -> ModelFacts:
        with self._lock:
            key = self._stamp()
            if self._facts is None or key != self._key:
                self._facts, self._key = read_model_facts(self.path), key
            return self._facts


def camera_facts(spec: str) -> dict[str, Any]:
    """The configured source in words, and whether what it names is there (None: cannot tell)."""
    kind, _, rest = spec.partition(":")
    if spec.startswith("/dev/"):
        kind, rest = "opencv", spec
    row = SOURCE_KINDS.get(kind)
    found: bool | None = None
    if kind == "video":
        found = Path(rest).is_file()
    elif kind == "folder":
        found = Path(rest).is_dir()
    elif kind == "opencv":
        found = Path(rest if rest.startswith("/dev/") else f"/dev/video{rest or 0}").exists()
    return {"spec": spec, "what": row.what if row else "unknown kind of source", "found": found}


def disk_facts(path: Path) -> dict[str, Any]:
    """Free and total space where results are written (the nearest existing folder)."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    return {
        "path": str(path),
        "free_gb": usage.free / 1024**3,
        "total_gb": usage.total / 1024**3,
        "low": usage.free < LOW_DISK_BYTES,
    }
