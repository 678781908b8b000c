"""The reference bundle that ships inside the package: a fresh install classifies real smears with it.

These checks run the real bundle (edge_all/runtime/models/reference, docs/model-card.md) on the device runtime
with TensorFlow and Keras unimportable, as on a Raspberry Pi. The real-smear check reads held-out test
images of the public dataset from ../shared/data/ALL where that checkout has it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from edge_all.runtime.models import reference_bundle
from tests.cli_runner import HEAVY, REPO, python_with, run_edge_all_watched

ALL_DATA = REPO.parent / "shared" / "data" / "ALL" / "Original"
# Held-out test-split images of the reference run (its split.json), the first three of each class.
# The model never trained on them; the model card's test numbers include them.
HELD_OUT = {
    "Benign": ["WBC-Benign-006.jpg", "WBC-Benign-008.jpg", "WBC-Benign-028.jpg"],
    "Early": ["WBC-Malignant-Early-009.jpg", "WBC-Malignant-Early-018.jpg", "WBC-Malignant-Early-026.jpg"],
    "Pre": ["WBC-Malignant-Pre-025.jpg", "WBC-Malignant-Pre-045.jpg", "WBC-Malignant-Pre-057.jpg"],
    "Pro": ["WBC-Malignant-Pro-016.jpg", "WBC-Malignant-Pro-031.jpg", "WBC-Malignant-Pro-039.jpg"],
}


def test_the_reference_bundle_describes_a_real_int8_model_with_its_referral_and_calibration():
    manifest = json.loads((reference_bundle() / "bundle.json").read_text())
    assert manifest["labels"] == ["Benign", "Early", "Pre", "Pro"]
    assert manifest["precision"] == "int8"
    assert manifest["trained_on"]["data"] == "real"
    assert manifest["calibration"]["temperature"] > 0
    assert manifest["referral"]["method"]
    model = reference_bundle() / "model.tflite"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == manifest["model_sha256"]
    assert model.stat().st_size < 4 * 1024 * 1024  # package data of a few MB


def test_classify_without_model_uses_the_reference_bundle_where_tensorflow_cannot_be_imported(tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((224, 224, 3), 128, np.uint8)).save(grey)
    result, imported = run_edge_all_watched("classify", grey, "--json", blocked=HEAVY)
    assert result.returncode == 0, result.stderr
    assert imported == "[]"
    assert "synthetic" not in result.stderr  # the reference bundle is not a demo bundle
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["file"] == str(grey)
    assert record["status"] != "classified"  # a flat grey field is turned away, not called a class


@pytest.mark.skipif(not ALL_DATA.is_dir(), reason="the public ALL dataset is not beside this checkout")
def test_the_reference_bundle_classifies_real_held_out_smears_of_every_class():
    files = [ALL_DATA / label / name for label, names in HELD_OUT.items() for name in names]
    result = python_with(
        """
        import json
        from edge_all.runtime.classifier import Classifier
        classifier = Classifier.load(sys.argv[1])
        for path in sys.argv[2:]:
            p = classifier.predict(path)
            print(json.dumps({"label": p.label, "confidence": p.confidence, "referred": p.referred}))
        """,
        reference_bundle(),
        *files,
        blocked=HEAVY,
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [label for label, names in HELD_OUT.items() for _ in names]
    assert [a["label"] for a in answers] == expected
    assert not any(a["referred"] for a in answers)
    assert min(a["confidence"] for a in answers) > 0.6


def test_a_wheel_of_the_package_carries_the_reference_bundle(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path]
        + [REPO],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("edge_all-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = {p.name for p in reference_bundle().iterdir() if p.is_file()}
        assert {f"edge_all/runtime/models/reference/{name}" for name in shipped} <= names
        packed = archive.read("edge_all/runtime/models/reference/model.tflite")
    assert packed == (reference_bundle() / "model.tflite").read_bytes()


def test_info_describes_the_reference_bundle_when_no_model_is_given():
    result, imported = run_edge_all_watched("info", "--json", blocked=HEAVY)
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)["model"]
    assert model["model"] == str(reference_bundle() / "model.tflite")
    assert model["labels"] == ["Benign", "Early", "Pre", "Pro"] and model["bundle"]["precision"] == "int8"
