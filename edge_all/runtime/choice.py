"""Which model a command runs, and how: the model path (or the reference bundle), its labels, threads
and the Edge TPU, travelling as one value from the command line or the station to where it is loaded.

It is the one place that knows the default (the reference bundle that ships with edge-all), that
loads the model, and that says what a user must be told before trusting its answers. Standard library
only at module level: the CLI and the station build one before numpy or the interpreter load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edge_all.runtime.models import named_bundle, reference_bundle

if TYPE_CHECKING:
    from edge_all.runtime.classifier import Classifier


def _ignore(_: str) -> None:
    pass


@dataclass(frozen=True)
class ModelChoice:
    model: Path | None = None  # a bundle directory or a plain .tflite; None: the reference bundle
    labels: Path | None = None  # a labels file, for a plain .tflite
    threads: int | None = None  # interpreter threads; None: every core
    edgetpu: bool = False  # run on a Coral Edge TPU (a bundle's model_edgetpu.tflite)

    @property
    def path(self) -> Path:
        """The model chosen: `model` (a path, or the name of a shipped bundle that is not a path here:
        `cells`), or the reference bundle (NoReferenceBundle when none ships)."""
        if self.model is None:
            return reference_bundle()
        if not self.model.exists():
            return named_bundle(str(self.model)) or self.model
        return self.model

    def resolved(self) -> ModelChoice:
        """The same choice with the default made explicit, so a missing reference bundle is said now."""
        return replace(self, model=self.path)

    def load(self, warn: Callable[[str], None] = _ignore) -> Classifier:
        """Load the model (its errors are EdgeAllErrors, one line each), and hand `warn` each thing
        a user must know before trusting it (see `warnings`)."""
        from edge_all.runtime.classifier import Classifier

        classifier = Classifier.load(
            self.path, labels=self.labels, threads=self.threads, edgetpu=self.edgetpu
        )
        for warning in warnings(classifier):
            warn(warning)
        return classifier


def warnings(classifier: Classifier) -> list[str]:
    """What a user must be told before trusting this model's answers (every command says it)."""
    manifest = classifier.manifest
    trained_on = manifest.trained_on if manifest is not None else None
    if trained_on is not None and trained_on.synthetic:
        return [
            f"{classifier.model_path.parent}: this bundle was trained on synthetic demo images "
            f"({trained_on.dataset}); its answers mean nothing for real blood smears"
        ]
    return []
