"""training/ is Keras 3 only: it trains on the JAX backend too, and never imports TensorFlow."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np

TRAINING = Path(__file__).resolve().parents[2] / "training"


def test_no_module_in_training_imports_tensorflow():
    modules = sorted(TRAINING.glob("*.py"))
    assert len(modules) > 5
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] != "tensorflow", f"{path.name} imports {name}"


def test_tiny_model_trains_on_the_jax_backend(jax_run):
    out = jax_run  # `edge-all train ... --epochs 2 --image-size 32` with KERAS_BACKEND=jax (conftest)
    config = json.loads((out / "config.json").read_text())
    assert config["machine"]["keras_backend"] == "jax"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["count"] > 0 and len(json.loads((out / "history.json").read_text())["loss"]) >= 1

    # the .keras file is backend-neutral: it loads and predicts here, on this process's backend
    from training.models import load_model

    model = load_model(out / "model.keras")
    probabilities = model.predict(np.full((1, 32, 32, 3), 128, np.float32), verbose=0)
    assert probabilities.shape == (1, 4) and abs(float(probabilities.sum()) - 1) < 1e-5
