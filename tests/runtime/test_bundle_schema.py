"""bundle.json has a published JSON Schema (docs/schemas/bundle.schema.json), and it tells the truth.

Every bundle the project writes validates against it (the reference bundle that ships, a bundle
`edge-all convert` makes, a manifest written by the runtime's own write_manifest, a version 1
manifest), and the schema and the device's reader (edge_all.jsonfile, BundleManifest.from_dict)
agree: what the schema accepts is read, and what it refuses the reader refuses too. The device
never needs jsonschema (a dev dependency); its reader stays its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

from edge_all.runtime.bundle import MANIFEST_FILE, BundleError, BundleManifest, read_manifest  # noqa: E402
from edge_all.runtime.models import reference_bundle  # noqa: E402
from tests.cli_runner import REPO  # noqa: E402

from .test_bundle_manifest import manifest, write_bundle  # noqa: E402

SCHEMA = json.loads((REPO / "docs" / "schemas" / "bundle.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def as_written(recorded: BundleManifest) -> dict:
    """The manifest as bundle.json holds it (write_manifest's JSON)."""
    return json.loads(json.dumps(recorded.to_dict()))


def problems(document: dict) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_reference_bundle_is_valid():
    assert problems(read_json(reference_bundle() / MANIFEST_FILE)) == []


def test_a_bundle_that_convert_writes_is_valid(int8_bundle):
    document = read_json(int8_bundle / MANIFEST_FILE)
    assert problems(document) == []
    assert set(document["outputs"]) >= {"scores", "features"}  # the roles convert writes are described


def test_what_write_manifest_writes_is_valid(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    assert problems(read_json(bundle / MANIFEST_FILE)) == []


def test_a_version_1_manifest_is_valid_and_read():
    document = as_written(manifest())
    del document["outputs"]
    document.update(format_version=1, output={"shape": [1, 4], "dtype": "float32"}, outputs="logits")
    assert problems(document) == []
    assert BundleManifest.from_dict(document).scores.kind == "logits"


def _without(key: str):
    def change(document: dict) -> None:
        del document[key]

    return change


def _set(*path: str, value):
    def change(document: dict) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


# Documents the schema refuses; the reader must refuse each of them too.
REFUSED = {
    "no labels": _without("labels"),
    "labels not strings": _set("labels", value=["Benign", 1]),
    "unknown format version": _set("format_version", value=4),
    "format version as text": _set("format_version", value="2"),
    "no input": _without("input"),
    "a shape of text": _set("input", "shape", value="1x64x48x3"),
    "a negative dimension": _set("input", "shape", value=[1, -64, 48, 3]),
    "a fractional zero point": _set("input", "quantization", value={"scale": 0.5, "zero_point": 1.5}),
    "quantization without a scale": _set("input", "quantization", value={"zero_point": 0}),
    "no scores": lambda document: document["outputs"].pop("scores"),
    "an unknown output role": _set(
        "outputs", "logits", value={"kind": "logits", "shape": [1, 4], "dtype": "uint8"}
    ),
    "an output without its kind": _set("outputs", "features", value={"shape": [1, 8], "dtype": "float32"}),
    "an unknown colour order": _set("preprocessing", "color_order", value="BGR"),
    "an unknown resize": _set("preprocessing", "resize", value="lanczos"),
    "an unknown crop": _set("preprocessing", "crop", value="edge"),
    "a negative model size": _set("model_bytes", value=-1),
    "a model size as text": _set("model_bytes", value="2 MB"),
    "a threshold as text": _set("confidence_threshold", value="0.6"),
    "a negative threshold": _set("confidence_threshold", value=-0.1),
    "a zero temperature": _set("calibration", "temperature", value=0),
    "training without a dataset": _set("trained_on", value={"data": "real"}),
    "a negative image count": _set("trained_on", "images", "train", value=-3),
    "no creation time": _without("created"),
    "extra not an object": _set("extra", value=["note"]),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_the_schema_refuses_the_reader_refuses(name):
    document = as_written(manifest())
    assert problems(document) == [] and BundleManifest.from_dict(document)  # the base is good
    REFUSED[name](document)
    assert problems(document), f"the schema accepts {name}"
    with pytest.raises(BundleError):
        BundleManifest.from_dict(document)


def test_a_checksum_that_is_not_sha256_is_refused_by_both(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", manifest())
    document = read_json(bundle / MANIFEST_FILE)
    document["model_sha256"] = "not-a-sha256"
    (bundle / MANIFEST_FILE).write_text(json.dumps(document), encoding="utf-8")
    assert problems(document)
    with pytest.raises(BundleError, match="model_sha256: expected a sha256"):  # before its file is read
        read_manifest(bundle)
