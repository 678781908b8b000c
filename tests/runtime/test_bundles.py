"""The runtime on real bundles: trained on synthetic smears by training/, converted by convert/."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_all.exit_codes import ExitCode
from edge_all.runtime.classifier import Classifier
from tests.cli_runner import run_edge_all

pytestmark = pytest.mark.slow  # trains and converts a tiny model once per session


def _test_images(trained_run):
    from training.dataset import read_split

    split = read_split(trained_run / "split.json")
    return [(split.path(record), record.label) for record in split.part("test")]


def _predict_all(classifier: Classifier, images):
    # The split holds only readable images (training skips the demo data's truncated file).
    return [(classifier.predict(path), label) for path, label in images]


@pytest.mark.parametrize("fixture", ["int8_bundle", "float32_bundle"])
def test_bundle_reproduces_the_accuracy_convert_recorded(request, trained_run, fixture):
    bundle = request.getfixturevalue(fixture)
    classifier = Classifier.load(bundle, threads=1)
    manifest = classifier.manifest
    assert classifier.labels == manifest.labels == ["Benign", "Early", "Pre", "Pro"]
    assert classifier.input_size == (64, 64)
    expected_dtype = "uint8" if fixture == "int8_bundle" else "float32"
    assert classifier.input.dtype == expected_dtype

    predictions = _predict_all(classifier, _test_images(trained_run))
    assert len(predictions) >= 8
    correct = [p.label == label for p, label in predictions]
    recorded = manifest.accuracy_check["converted"]["accuracy"]
    # convert's check ran this same Classifier on the same test split: the device must agree exactly.
    assert np.mean(correct) == pytest.approx(recorded, abs=1e-9)
    for prediction, _ in predictions:
        assert prediction.probabilities.shape == (4,)
        assert prediction.probabilities.sum() == pytest.approx(1.0, abs=0.02)


def test_int8_and_float32_bundles_mostly_agree(int8_bundle, float32_bundle, trained_run):
    images = _test_images(trained_run)
    int8 = _predict_all(Classifier.load(int8_bundle), images)
    float32 = _predict_all(Classifier.load(float32_bundle), images)
    agree = [a.index == b.index for (a, _), (b, _) in zip(int8, float32, strict=True)]
    assert np.mean(agree) >= 0.8
    gaps = [
        np.abs(a.probabilities - b.probabilities).max() for (a, _), (b, _) in zip(int8, float32, strict=True)
    ]
    assert np.median(gaps) < 0.1


def test_cli_on_a_real_bundle_and_a_test_folder(int8_bundle, trained_run):
    images = [path for path, _ in _test_images(trained_run)][:6]
    result = run_edge_all("classify", "-m", int8_bundle, "--json", *images, timeout=120)
    assert result.returncode == ExitCode.OK, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["file"] for record in records] == [str(path) for path in images]
    classifier = Classifier.load(int8_bundle)
    for record in records:
        assert "error" not in record, record
        expected = classifier.predict(record["file"])
        assert record["label"] == expected.label and record["index"] == expected.index
        assert record["confidence"] == pytest.approx(expected.confidence, abs=1e-6)
