"""Interpreter backend order: LiteRT, then tflite_runtime, then TensorFlow only as a last resort."""

from __future__ import annotations

import json
import os

import pytest

from edge_all.runtime.backend import BACKEND_ENV, BackendError, edgetpu_runtime_present, find_interpreter
from tests.cli_runner import python_with


def test_litert_comes_first_even_with_tensorflow_loaded():
    import tensorflow  # noqa: F401  (this test process may have it; it must still not be chosen)

    assert find_interpreter().name == "ai_edge_litert"


def test_tensorflow_lite_is_the_fallback_without_litert(tiny_bundle, tmp_path):
    from PIL import Image

    from .conftest import colour_image

    image = tmp_path / "red.png"
    Image.fromarray(colour_image(0)).save(image)
    result = python_with(
        """
        import json
        from edge_all.runtime.classifier import Classifier
        classifier = Classifier.load(sys.argv[1])
        print(json.dumps([classifier.backend.name, classifier.predict(sys.argv[2]).label]))
        """,
        str(tiny_bundle),
        str(image),
        blocked=("ai_edge_litert", "tflite_runtime"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == ["tensorflow", "red"]


def test_no_interpreter_at_all_is_a_clear_error():
    result = python_with(
        """
        from edge_all.runtime.backend import BackendError, find_interpreter
        try:
            find_interpreter()
        except BackendError as error:
            print(error)
        """,
        blocked=("ai_edge_litert", "tflite_runtime", "tensorflow"),
    )
    assert result.returncode == 0, result.stderr
    assert "no TFLite interpreter found: install LiteRT" in result.stdout


def test_a_backend_can_be_forced_by_name(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "tflite_runtime")  # not installed here
    with pytest.raises(BackendError, match="'tflite_runtime' is not installed"):
        find_interpreter()
    with pytest.raises(BackendError, match="unknown interpreter backend 'onnx'"):
        find_interpreter("onnx")
    assert find_interpreter("ai_edge_litert").name == "ai_edge_litert"


def test_edgetpu_runtime_is_really_absent_here():
    # The Edge TPU tests assume this machine has no libedgetpu; say so if that ever changes.
    assert not edgetpu_runtime_present(), (
        "libedgetpu is installed: the missing-delegate tests need a new home"
    )
    assert os.environ.get(BACKEND_ENV) is None
