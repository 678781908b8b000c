"""Writing a bundle so that a reader only ever sees a whole one, or none.

Every file goes into a hidden staging dir beside the target; only a bundle that passed the accuracy
check is renamed into place. A failed check leaves its report beside the target and no bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from convert.errors import ConvertError
from edge_all.runtime.bundle import LABELS_FILE, MODEL_FILE, OutputSpec, is_bundle, scores_only
from edge_all.runtime.labels import write_labels
from edge_all.runtime.tensors import TensorSpec
from edge_all.safe_write import write_errors, write_file

REPORT_FILE = "accuracy_check.json"


def failed_report_path(target: Path) -> Path:
    """Where the report of a check that failed goes: beside the bundle that was not written."""
    return target.parent / f"{target.name}.{REPORT_FILE}"


def check_target(target: Path, force: bool) -> None:
    """Refuse an existing target unless --force, and never replace something that is not a bundle."""
    if not target.exists():
        return
    if not force:
        raise ConvertError(f"{target}: already exists (pass --force to replace it)")
    if target.is_dir() and (is_bundle(target) or not any(target.iterdir())):
        return
    raise ConvertError(f"{target}: exists and is not a bundle; refusing to replace it, even with --force")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half of it."""
    write_file(path, json.dumps(data, indent=2) + "\n", "the accuracy report")


# The converted model's named outputs (training.models.export_model) -> (role in the bundle, kind).
OUTPUT_ROLES = {
    "logits": ("scores", "logits"),
    "features": ("features", "features"),
    "feature_map": ("feature_map", "feature_map"),
}


def tensor_specs(model_path: Path, scores_kind: str = "logits") -> tuple[TensorSpec, dict[str, OutputSpec]]:
    """The input tensor and the outputs by role of a .tflite, as the interpreter that will run it sees them.

    A model with one output has only class scores, of `scores_kind`.
    """
    from edge_all.runtime.backend import find_interpreter

    interpreter, _ = find_interpreter().make(str(model_path), threads=1)
    input_spec = TensorSpec.from_details(interpreter.get_input_details()[0])
    details = interpreter.get_output_details()
    if len(details) == 1:
        return input_spec, scores_only(TensorSpec.from_details(details[0]), scores_kind)
    by_index = {int(d["index"]): d for d in details}
    signature = interpreter.get_signature_runner().get_output_details()
    outputs = {}
    for key, found in signature.items():
        if key not in OUTPUT_ROLES:
            raise ConvertError(f"{model_path}: unexpected output {key!r} (expected {sorted(OUTPUT_ROLES)})")
        role, kind = OUTPUT_ROLES[key]
        tensor = by_index[int(found["index"])]
        outputs[role] = OutputSpec(str(tensor["name"]), TensorSpec.from_details(tensor), kind)
    return input_spec, outputs


class Staging:
    """A hidden dir beside `target` that becomes the bundle on publish() and vanishes otherwise."""

    def __init__(self, target: Path):
        self.target = target
        with write_errors(target, "the bundle"):  # a full disk: StorageFull's one line
            target.parent.mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
            self.dir.chmod(0o755)  # mkdtemp's private 0o700 would hide the published bundle from other users
        self.published = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.published:
            shutil.rmtree(self.dir, ignore_errors=True)

    def write_model(self, tflite: bytes, labels: list[str]) -> Path:
        path = self.dir / MODEL_FILE
        write_file(path, tflite, "the model")
        write_labels(self.dir / LABELS_FILE, labels)
        return path

    def publish(self) -> Path:
        """Rename the staging dir to the target (an old bundle there, allowed by --force, goes)."""
        old = None
        if self.target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".old", dir=self.target.parent)
            )
            os.replace(self.target, old / self.target.name)
        os.replace(self.dir, self.target)
        self.published = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        stale = failed_report_path(self.target)
        if stale.is_file():  # the report of an earlier failed attempt no longer describes the target
            stale.unlink()
        return self.target
