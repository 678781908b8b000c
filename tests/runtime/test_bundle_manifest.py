"""bundle.json read back exactly as written, and every way a bundle's files can betray it refused.

The model file is any bytes here: read_manifest checks a model by its sha256, not by running it, so
these tests need no TensorFlow (and `make mutation` runs them for every mutant of edge_all/runtime/bundle.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edge_all.digest import sha256_bytes
from edge_all.runtime.bundle import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    EDGETPU_MODEL_FILE,
    FORMAT_VERSION,
    HEATMAP_FILE,
    LABELS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    REFERRAL_FILE,
    BundleError,
    BundleManifest,
    Calibration,
    OutputSpec,
    Referral,
    TrainedOn,
    is_bundle,
    read_manifest,
    scores_only,
    trained_on_text,
    write_manifest,
)
from edge_all.runtime.images import Preprocessing
from edge_all.runtime.labels import write_labels
from edge_all.runtime.tensors import Quantization, TensorSpec

LABELS = ["Benign", "Early", "Pre", "Pro"]
MODEL = b"not really a tflite model, but bytes with a known hash"
SCORES = TensorSpec((1, 4), "uint8", Quantization(1 / 256, 0))


def manifest(**changes) -> BundleManifest:
    base = BundleManifest(
        labels=LABELS,
        input=TensorSpec((1, 64, 48, 3), "uint8", Quantization(1.0, 0)),
        outputs={
            **scores_only(SCORES, "logits"),
            "features": OutputSpec("pooled", TensorSpec((1, 8), "float32")),
        },
        preprocessing=Preprocessing(resize="area", crop="none"),
        precision="int8",
        model_sha256=sha256_bytes(MODEL),
        model_bytes=len(MODEL),
        float_model_bytes=1000,
        source_run="runs/tiny",
        accuracy_check={"passed": True, "drop_pp": 0.5},
        created="2026-11-27T00:00:00+00:00",
        edge_all_version="0.1.0",
        trained_on=TrainedOn("synthetic", "demo", {"train": 10, "test": 3}),
        calibration=Calibration(1.5, {"ece_after": 0.02}),
        confidence_threshold=0.75,
        extra={"note": "kept"},
    )
    return replace(base, **changes)


def write_bundle(path: Path, recorded: BundleManifest, labels: list[str] = LABELS) -> Path:
    path.mkdir()
    (path / MODEL_FILE).write_bytes(MODEL)
    write_labels(path / LABELS_FILE, labels)
    write_manifest(path, recorded)
    return path


def rewrite(bundle: Path, **changes) -> None:
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data.update(changes)
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))


def test_a_manifest_reads_back_exactly_as_written(tmp_path):
    written = manifest()
    bundle = write_bundle(tmp_path / "bundle", written)
    assert is_bundle(bundle) and not is_bundle(tmp_path) and not is_bundle(bundle / MODEL_FILE)
    read = read_manifest(bundle)
    assert read == written
    assert read.scores == OutputSpec("", SCORES, "logits")
    assert read.trained_on.synthetic and not TrainedOn("real", "ALL").synthetic
    assert read.format_version == FORMAT_VERSION == 2
    assert json.loads((bundle / MANIFEST_FILE).read_text())["outputs"]["scores"] == {
        "name": "",
        "kind": "logits",
        "shape": [1, 4],
        "dtype": "uint8",
        "quantization": {"scale": 1 / 256, "zero_point": 0},
    }


def test_optional_entries_have_their_defaults(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    for key in ("float_model_bytes", "source_run", "accuracy_check", "trained_on", "calibration"):
        data[key] = None
    for key in ("confidence_threshold", "extra", "edgetpu_model_sha256", "referral", "heatmap_sha256"):
        del data[key]
    del data["outputs"]["features"]["name"]
    del data["trained_on"]
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    read = read_manifest(bundle)
    assert read.confidence_threshold == DEFAULT_CONFIDENCE_THRESHOLD == 0.6
    assert read.extra == {} and read.referral is None and read.calibration is None
    assert read.trained_on is None and read.accuracy_check is None and read.float_model_bytes is None
    assert read.outputs["features"].name == ""
    data["calibration"] = {"temperature": 2.0}
    data["referral"] = {"sha256": sha256_bytes(b"detector"), "method": "mahalanobis"}
    data["trained_on"] = {"data": "real", "dataset": "ALL"}
    (bundle / REFERRAL_FILE).write_bytes(b"detector")
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    read = read_manifest(bundle)
    assert read.calibration == Calibration(2.0, {}) and read.referral.details == {}
    assert read.trained_on == TrainedOn("real", "ALL", {})
    del data["format_version"]
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"bundle\.json: format_version: None is not supported"):
        read_manifest(bundle)


def test_what_is_not_an_object_is_named():
    with pytest.raises(BundleError, match=r"^bundle\.json: expected a JSON object, got a list$"):
        BundleManifest.from_dict([])
    with pytest.raises(BundleError, match=r"^output: expected a JSON object, got a string$"):
        OutputSpec.from_dict("scores")
    assert scores_only(SCORES) == {"scores": OutputSpec("", SCORES, "probabilities")}


def test_the_manifest_is_indented_for_people_and_bounded_in_size(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    assert (bundle / MANIFEST_FILE).read_text().startswith('{\n  "labels": [\n    "Benign",')
    (bundle / MANIFEST_FILE).write_text(" " * (4 << 20 | 1))
    with pytest.raises(BundleError) as raised:
        read_manifest(bundle)
    assert str(raised.value) == (
        f"{bundle / MANIFEST_FILE}: bundle manifest is larger than 4,194,304 bytes; refusing to read it"
    )


def test_a_version_1_manifest_has_one_output_of_the_recorded_kind(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    del data["outputs"]
    output = {"shape": [1, 4], "dtype": "float32"}
    (bundle / MANIFEST_FILE).write_text(json.dumps({**data, "format_version": 1, "output": output}))
    read = read_manifest(bundle)
    assert read.format_version == 1
    assert read.outputs == {"scores": OutputSpec("", TensorSpec((1, 4), "float32"), "probabilities")}
    rewrite(bundle, outputs="logits")
    assert read_manifest(bundle).scores.kind == "logits"


@pytest.mark.parametrize("version", [0, 4, "2", None])
def test_an_unknown_format_version_is_refused(tmp_path, version):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    rewrite(bundle, format_version=version)
    with pytest.raises(BundleError) as raised:
        read_manifest(bundle)
    assert str(raised.value) == (
        f"{bundle / MANIFEST_FILE}: format_version: {version!r} is not supported "
        "(this edge-all reads 1, 2, 3)"
    )


@pytest.mark.parametrize(
    ("roles", "got"), [(["features"], "['features']"), (["scores", "logits"], "['logits', 'scores']")]
)
def test_outputs_must_name_the_scores_and_only_known_roles(tmp_path, roles, got):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    scores = json.loads((bundle / MANIFEST_FILE).read_text())["outputs"]["scores"]
    rewrite(bundle, outputs={role: scores for role in roles})
    with pytest.raises(BundleError) as raised:
        read_manifest(bundle)
    assert str(raised.value) == (
        f"{bundle / MANIFEST_FILE}: outputs: must name the scores and only "
        f"('scores', 'features', 'feature_map') (got {got})"
    )


def test_values_are_checked_against_their_limits(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    for key, value, problem in [
        ("model_bytes", -1, "model_bytes: must be at least 0"),
        ("float_model_bytes", -1, "float_model_bytes: must be at least 0"),
        ("confidence_threshold", -0.1, "confidence_threshold: must be at least 0"),
        ("calibration", {"temperature": 0.0}, "calibration.temperature: must be at least 1e-06"),
        ("trained_on", {"data": "real", "dataset": "x", "images": {"train": -1}}, "images.train"),
    ]:
        good = json.loads((bundle / MANIFEST_FILE).read_text())
        rewrite(bundle, **{key: value})
        with pytest.raises(BundleError, match=problem):
            read_manifest(bundle)
        (bundle / MANIFEST_FILE).write_text(json.dumps(good))
    rewrite(bundle, model_bytes=0, float_model_bytes=0, confidence_threshold=0.0)
    assert read_manifest(bundle).confidence_threshold == 0.0


def test_a_changed_or_missing_model_is_refused(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    (bundle / MODEL_FILE).write_bytes(MODEL + b"!")
    with pytest.raises(BundleError) as raised:
        read_manifest(bundle)
    message = str(raised.value)
    assert message.startswith(f"{bundle / MODEL_FILE}: sha256 {sha256_bytes(MODEL + b'!')[:12]}... ")
    assert f"does not match bundle.json ({sha256_bytes(MODEL)[:12]}...)" in message
    assert message.endswith("; the model file was changed or damaged, refusing to use it")
    (bundle / MODEL_FILE).unlink()
    with pytest.raises(BundleError, match=r": missing from the bundle$"):
        read_manifest(bundle)
    with pytest.raises(BundleError, match=rf"^{tmp_path}: not a bundle \(no bundle\.json\)$"):
        read_manifest(tmp_path)


def test_an_edgetpu_model_is_verified_like_the_main_one(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    (bundle / EDGETPU_MODEL_FILE).write_bytes(b"compiled")
    with pytest.raises(BundleError, match="records no sha256 for it; refusing an unverified model"):
        read_manifest(bundle)
    rewrite(bundle, edgetpu_model_sha256=sha256_bytes(b"other"))
    with pytest.raises(BundleError, match=rf"{EDGETPU_MODEL_FILE}: sha256 .* does not match"):
        read_manifest(bundle)
    rewrite(bundle, edgetpu_model_sha256=sha256_bytes(b"compiled"))
    assert read_manifest(bundle).edgetpu_model_sha256 == sha256_bytes(b"compiled")


@pytest.mark.parametrize("name", [REFERRAL_FILE, HEATMAP_FILE])
def test_the_referral_detector_and_heatmap_files_are_verified(tmp_path, name):
    referral = Referral(sha256_bytes(b"detector"), "mahalanobis", {"dims": 8})
    recorded = manifest(referral=referral, heatmap_sha256=sha256_bytes(b"heatmap"))
    bundle = write_bundle(tmp_path / "bundle", recorded)
    (bundle / REFERRAL_FILE).write_bytes(b"detector")
    (bundle / HEATMAP_FILE).write_bytes(b"heatmap")
    assert read_manifest(bundle) == recorded
    (bundle / name).write_bytes(b"swapped")
    with pytest.raises(BundleError, match=rf"{name}: sha256 .* does not match"):
        read_manifest(bundle)
    (bundle / name).unlink()
    with pytest.raises(BundleError, match=rf"{name}: missing from the bundle"):
        read_manifest(bundle)


@pytest.mark.parametrize(
    ("labels", "difference"),
    [
        (["Benign", "Early", "Pre"], "3 labels, 4 recorded"),
        (["Benign", "Early", "Pro", "Pre"], "label 2 is 'Pro', recorded 'Pre'"),
        (["Benign", "Early", "Pre", "Pro", "Other"], "5 labels, 4 recorded"),
    ],
)
def test_labels_that_differ_from_the_manifest_are_named(tmp_path, labels, difference):
    bundle = write_bundle(tmp_path / "bundle", manifest(), labels=labels)
    with pytest.raises(BundleError) as raised:
        read_manifest(bundle)
    assert str(raised.value) == (f"{bundle / LABELS_FILE}: labels differ from {MANIFEST_FILE} ({difference})")


def test_a_missing_labels_file_is_a_bundle_error(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    (bundle / LABELS_FILE).unlink()
    with pytest.raises(BundleError, match=LABELS_FILE):
        read_manifest(bundle)


def test_the_description_says_what_the_bundle_records():
    described = manifest(referral=Referral("ab" * 32, "mahalanobis-pca", {"dims": 8})).describe()
    assert described == {
        "format_version": FORMAT_VERSION,
        "precision": "int8",
        "model_sha256": sha256_bytes(MODEL),
        "source_run": "runs/tiny",
        "created": "2026-11-27T00:00:00+00:00",
        "edge_all_version": "0.1.0",
        "trained_on": {"data": "synthetic", "dataset": "demo", "images": {"train": 10, "test": 3}},
        "confidence_threshold": 0.75,
        "calibration": {"temperature": 1.5, "details": {"ece_after": 0.02}},
        "referral": {"sha256": "ab" * 32, "method": "mahalanobis-pca", "details": {"dims": 8}},
        "heatmaps": False,
        "accuracy_check": {"passed": True, "drop_pp": 0.5},
    }
    assert json.loads(json.dumps(described)) == described  # JSON as it is
    bare = manifest(trained_on=None, calibration=None, heatmap_sha256="cd" * 32).describe()
    assert (bare["trained_on"], bare["calibration"], bare["referral"], bare["heatmaps"]) == (
        None,
        None,
        None,
        True,
    )


def test_what_a_bundle_was_trained_on_in_words():
    assert trained_on_text(manifest().describe()["trained_on"]) == "synthetic images, demo"
    assert trained_on_text(None) is None
