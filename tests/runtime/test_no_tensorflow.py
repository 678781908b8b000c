"""The device runtime must work where TensorFlow cannot even be imported, and must never import it.

Each check runs in a fresh interpreter: this test process has TensorFlow loaded (it builds the
small test models), so only a subprocess can show what importing edge_all really pulls in.
"""

from __future__ import annotations

import json

from tests.cli_runner import python_with, run_edge_all_watched

from .conftest import colour_image


def test_importing_the_runtime_does_not_import_tensorflow():
    result = python_with(
        """
        import edge_all.runtime.classifier, edge_all.cli.main, edge_all.cli.classify, edge_all.runtime.backend
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax", "torch"))
        print(heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_classifying_works_where_tensorflow_cannot_be_imported(tiny_bundle, tiny_models, tmp_path):
    from PIL import Image

    image = tmp_path / "blue.png"
    Image.fromarray(colour_image(2)).save(image)
    green = tmp_path / "green.png"
    Image.fromarray(colour_image(1)).save(green)
    result = python_with(
        """
        import json
        from edge_all.runtime.classifier import Classifier
        bundle, model, labels, image, green = sys.argv[1:]
        tiny = Classifier.load(bundle).predict(image)
        plain = Classifier.load(model, labels=labels).predict(green)
        print(json.dumps({
            "tiny": tiny.label, "plain": plain.label,
            "backend": Classifier.load(bundle).backend.name,
            "tensorflow": "tensorflow" in sys.modules,
        }))
        """,
        str(tiny_bundle),
        str(tiny_models.int8_io),
        str(tiny_models.labels),
        str(image),
        str(green),
        blocked=("tensorflow", "keras"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "tiny": "blue",
        "plain": "green",
        "backend": "ai_edge_litert",
        "tensorflow": False,
    }


def test_the_cli_classifies_where_tensorflow_cannot_be_imported(tiny_bundle, tmp_path):
    from PIL import Image

    image = tmp_path / "green.png"
    Image.fromarray(colour_image(1)).save(image)
    result = python_with(
        """
        import runpy
        sys.argv = ["edge-all"] + sys.argv[1:]
        runpy.run_module("edge_all", run_name="__main__")
        """,
        "classify",
        "--model",
        str(tiny_bundle),
        "--no-quality-gate",  # a colour picture, not a smear
        "--json",
        str(image),
        blocked=("tensorflow", "keras"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["label"] == "green"


def test_a_device_install_still_lists_the_training_commands():
    """train, evaluate and convert come from training/ and convert/ through entry points, not imports."""
    done, imported = run_edge_all_watched("--help", blocked=("tensorflow", "keras", "matplotlib"))
    assert done.returncode == 0, done.stderr
    for command in ("classify", "capture-and-classify", "results", "train", "evaluate", "convert"):
        assert f"│ {command} " in done.stdout, command
    assert imported == "[]"
