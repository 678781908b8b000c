"""What every command that runs a model shares: its options, and loading the model they name.

Only typer and the standard library at module level, so `edge-all --help` stays instant on a Pi.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ModelOption = Annotated[
    Path, typer.Option("--model", "-m", help="A bundle directory, or a plain .tflite model (with --labels).")
]
LabelsOption = Annotated[
    Path | None,
    typer.Option("--labels", help="Labels file for a plain .tflite: `label` or `index label` per line."),
]
ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="Interpreter threads (default: every core).")
]
EdgeTpuOption = Annotated[
    bool, typer.Option("--edgetpu", help="Run on a Coral Edge TPU (needs libedgetpu.so.1 and the device).")
]


def load_classifier(model: Path, labels: Path | None, threads: int | None, edgetpu: bool):
    """Load the classifier the options name (its errors reach the user as one line, via edge_all.cli)."""
    from edge_all.classifier import Classifier

    return Classifier.load(model, labels=labels, threads=threads, edgetpu=edgetpu)
