"""bundle.json from outside: nested without end, a list instead of an object, a value of the wrong
type. Each is one line naming the file and the key (edge_all.jsonfile), never a RecursionError,
AttributeError or TypeError traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from edge_all.errors import FileError
from edge_all.jsonfile import JsonObject, parse_json_object
from edge_all.runtime.bundle import MANIFEST_FILE, BundleError, BundleManifest, read_manifest
from tests.cli_runner import run_edge_all as edge_all

from .test_hostile_files import one_error_line


@pytest.fixture
def bundle(tmp_path, int8_bundle):
    return shutil.copytree(int8_bundle, tmp_path / "bundle")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested more than 32 levels deep"),
        ('{"a":' * 5_000 + "1" + "}" * 5_000, "JSON nested more than 32 levels deep"),
        ("[1, 2, 3]", "expected a JSON object at the top, got a list"),
        ("null", "expected a JSON object at the top, got null"),
        ("{not json", "not valid JSON"),
    ],
    ids=["deep-list", "deep-object", "list", "null", "garbage"],
)
def test_a_malformed_bundle_json_is_one_line(bundle, content, fragment):
    (bundle / MANIFEST_FILE).write_text(content)
    result = edge_all("info", "--model", bundle, timeout=60)
    assert result.returncode == 1
    one_error_line(result, f"{bundle / MANIFEST_FILE}: {fragment}")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("labels", "Benign", "labels: expected a list of strings, got a string"),
        ("labels", [1, 2, 3, 4], "labels: expected a list of strings, got a list"),
        ("input", [1, 64, 64, 3], "input: expected an object, got a list"),
        ("input", {"shape": "1x64x64x3", "dtype": "uint8"}, "input.shape: expected a list of integers"),
        ("input", {"shape": [1, 64, 64, 3], "dtype": 8}, "input.dtype: expected a string, got an integer"),
        (
            "outputs",
            {"scores": {"shape": [1, 4], "dtype": "uint8", "quantization": {"scale": "x", "zero_point": 0}}},
            "outputs.scores.quantization.scale: expected a number, got a string",
        ),  # fmt: skip
        ("outputs", [], "outputs: expected an object, got a list"),
        ("preprocessing", {"resize": ["bilinear"]}, "preprocessing.resize: expected a string, got a list"),
        ("model_sha256", None, "model_sha256: expected a string, got null"),
        ("model_bytes", "12", "model_bytes: expected an integer, got a string"),
        ("accuracy_check", [], "accuracy_check: expected an object, got a list"),
        ("extra", "x", "extra: expected an object, got a string"),
        ("format_version", "1", "format_version: '1' is not supported (this edge-all reads 1, 2, 3)"),
    ],
)
def test_a_bundle_json_value_of_the_wrong_type_names_the_file_and_key(bundle, key, value, fragment):
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest[key] = value
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as caught:
        read_manifest(bundle)
    message = str(caught.value)
    assert message.startswith(f"{bundle / MANIFEST_FILE}: ") and fragment in message, message


def test_the_command_says_which_key_of_bundle_json_is_wrong(bundle):
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["input"]["shape"] = "1x64x64x3"
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    result = edge_all("info", "--model", bundle, timeout=60)
    assert result.returncode == 1
    one_error_line(
        result, f"{bundle / MANIFEST_FILE}: input.shape: expected a list of integers, got a string"
    )


def test_a_missing_key_is_named(bundle):
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    del manifest["input"]
    with pytest.raises(BundleError, match="missing key input"):
        BundleManifest.from_dict(manifest)


def test_the_reader_refuses_what_json_allows_but_a_manifest_cannot_mean():
    doc = parse_json_object(
        '{"n": 1e400, "big": 1, "flag": true, "text": "x", "inner": {"k": NaN}}', "m.json"
    )
    with pytest.raises(FileError, match="m.json: n: must be a finite number, not inf"):
        doc.number("n")
    with pytest.raises(FileError, match="m.json: flag: expected an integer, got true/false"):
        doc.integer("flag")
    with pytest.raises(FileError, match="m.json: inner.k: must be a finite number, not nan"):
        doc.object("inner").number("k")
    with pytest.raises(FileError, match="m.json: not usable JSON"):
        parse_json_object('{"n": ' + "9" * 5000 + "}", "m.json")
    assert doc.text("missing", None) is None and doc.integer("big", minimum=0) == 1
    assert JsonObject.of({"a": 1}) == {"a": 1}
