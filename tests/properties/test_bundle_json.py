"""bundle.json, by property: what the published schema (docs/schemas/bundle.schema.json) calls valid
the reader reads, and writes back as it was; what the schema refuses the reader refuses, in one line.

Valid manifests are generated from the schema's shape (every version, every optional key, present or
absent or null where the schema allows it), and each is checked against the schema, so the generator
cannot drift from it. Mutated ones (a key dropped, a value of another type, a huge number, odd
unicode, a key added, a NaN) are judged by the schema and by the reader, which must agree, except for
what the schema says it cannot say (its description): integers written with a fraction (1.0 is an
integer to JSON Schema, not to the reader) and a cell model's label roles, which must cover the labels.
"""

from __future__ import annotations

import json
import math
import string

from hypothesis import given
from hypothesis import strategies as st

from edge_all.digest import sha256_bytes
from edge_all.runtime.bundle import (
    LABEL_ROLES,
    LABELS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    BundleManifest,
    read_manifest,
)
from edge_all.runtime.labels import write_labels

from .strategies import (
    CHECKS,
    FINITE,
    MEMORY_LIMIT,
    SHA256,
    answer,
    json_values,
    mutated,
    non_finite,
    odd_text,
    one_line,
    paths,
    peak_memory,
    schema_validator,
)

VALIDATOR = schema_validator("bundle")

sha256, finite = SHA256, FINITE
sizes = st.integers(0, 2**40)
# A label as labels.txt can hold it: one line, no space at its ends (the file is read line by line).
label = (
    st.text(string.ascii_letters + string.digits + "-_ ().", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)


tensors = st.fixed_dictionaries(
    {
        "shape": st.lists(st.integers(0, 4096), max_size=4),
        "dtype": st.sampled_from(["uint8", "int8", "float32"]),
    },
    optional={
        "quantization": st.none()
        | st.fixed_dictionaries({"scale": finite, "zero_point": st.integers(-255, 255)})
    },
)
outputs = st.builds(lambda tensor, kind, name: {**tensor, "kind": kind, **name}, tensors, odd_text,
                    st.just({}) | st.builds(lambda n: {"name": n}, odd_text))  # fmt: skip
details = st.dictionaries(odd_text, json_values, max_size=3)


def nullable_object(required: dict, optional_keys: dict) -> st.SearchStrategy:
    return st.none() | st.fixed_dictionaries(required, optional=optional_keys)


@st.composite
def manifests(draw) -> dict:
    """A bundle.json the schema calls valid (checked), of format version 1, 2 or 3."""
    version = draw(st.sampled_from([1, 2, 3]))
    labels = draw(st.lists(label, min_size=1, max_size=5, unique=True))
    document = {
        "format_version": version,
        "labels": labels,
        "input": draw(tensors),
        "preprocessing": draw(st.fixed_dictionaries({}, optional={
            "color_order": st.just("RGB"), "crop": st.sampled_from(["center", "none"]),
            "resize": st.sampled_from(["bilinear", "nearest", "bicubic", "area"])})),
        "precision": draw(st.sampled_from(["int8", "float16", "float32"]) | odd_text),
        "model_sha256": draw(sha256),
        "model_bytes": draw(sizes),
        "created": draw(odd_text),
        "edge_all_version": draw(odd_text),
    }  # fmt: skip
    optional_keys = {
        "float_model_bytes": st.none() | sizes,
        "source_run": st.none() | odd_text,
        "accuracy_check": st.none() | details,
        "edgetpu_model_sha256": st.none() | sha256,
        "trained_on": nullable_object(
            {"data": st.sampled_from(["real", "synthetic"]), "dataset": odd_text},
            {"images": st.dictionaries(odd_text, sizes, max_size=3)},
        ),
        "calibration": nullable_object({"temperature": st.floats(1e-6, 1e6)}, {"details": details}),
        "referral": nullable_object({"sha256": sha256, "method": odd_text}, {"details": details}),
        "heatmap_sha256": st.none() | sha256,
        "confidence_threshold": st.floats(0, 1),
        "extra": details,
    }
    for key, values in optional_keys.items():
        if draw(st.booleans()):
            document[key] = draw(values)
    if version == 1:
        document["output"] = draw(tensors)
        if draw(st.booleans()):
            document["outputs"] = draw(st.sampled_from(["logits", "probabilities"]))
    else:
        roles = draw(st.lists(st.sampled_from(["features", "feature_map"]), unique=True))
        document["outputs"] = {role: draw(outputs) for role in ["scores", *roles]}
    if version == 3:
        reads = draw(st.sampled_from(["cells", "field"]))
        document["reads"] = reads
        if reads == "cells" or draw(st.booleans()):  # every label needs a role (the reader's rule)
            document["label_roles"] = {name: draw(st.sampled_from(LABEL_ROLES)) for name in labels}
        if reads == "cells":
            method = draw(st.sampled_from(["none", "reinhard"]))
            stain = {"method": method}
            if method == "reinhard":
                stain["target_means"] = draw(st.lists(finite, min_size=3, max_size=3))
                stain["target_stds"] = draw(st.lists(st.floats(1e-6, 1e3), min_size=3, max_size=3))
            if draw(st.booleans()):
                stain["library"] = draw(st.none() | odd_text)
            document.update(
                scale={"um_per_px": draw(st.floats(1e-3, 100))},
                cell_crop={"size_px": draw(st.integers(8, 4096))},
                stain=stain,
            )
    assert schema_problems(document) == [], schema_problems(document)  # the generator is the schema's
    return document


def schema_problems(document) -> list[str]:
    if _non_finite(document):  # NaN and infinity are not JSON numbers: no JSON document holds one
        return ["holds a number JSON does not have (NaN or infinity)"]
    return [error.message for error in VALIDATOR.iter_errors(document)]


def _non_finite(document) -> bool:
    return any(isinstance(value, float) and not math.isfinite(value) for value in _leaves(document))


def _leaves(document):
    if isinstance(document, dict):
        for value in document.values():
            yield from _leaves(value)
    elif isinstance(document, list):
        for value in document:
            yield from _leaves(value)
    else:
        yield document


def as_json(manifest: BundleManifest) -> dict:
    """What write_manifest writes, read back as JSON."""
    return json.loads(json.dumps(manifest.to_dict(), allow_nan=False))


@CHECKS
@given(document=manifests())
def test_a_valid_manifest_is_read_and_written_back_as_it_was(document):
    manifest = BundleManifest.from_dict(document)
    assert manifest.labels == document["labels"] and manifest.format_version == document["format_version"]
    written = as_json(manifest)
    assert schema_problems(written) == []  # the writer writes what the schema calls valid
    assert BundleManifest.from_dict(written) == manifest


def beyond_the_schema(document, message: str) -> bool:
    """What the schema says it cannot express, and the reader refuses anyway (see the module doc)."""
    integral_floats = any(isinstance(v, float) and v.is_integer() for v in _leaves(document))
    integer_refusal = any(word in message for word in ("an integer", "list of integers", "format_version"))
    roles = "label_roles" in message and ("has no role" in message or "is not one of the labels" in message)
    return (integral_floats and integer_refusal) or roles


@CHECKS
@given(document=mutated(manifests(), json_values | non_finite))
def test_a_mutated_manifest_is_read_exactly_when_the_schema_calls_it_valid(document):
    problems = schema_problems(document)
    try:
        manifest = BundleManifest.from_dict(document)
    except BundleError as error:
        one_line(error, BundleError, f"{MANIFEST_FILE}: ")
        message = str(error)
        assert problems or beyond_the_schema(document, message), (
            f"the schema accepts what the reader refuses: {message}"
        )
        return
    assert not problems, f"the reader accepts what the schema refuses: {problems[0]}"
    assert BundleManifest.from_dict(as_json(manifest)) == manifest


@CHECKS
@given(document=manifests(), value=json_values | non_finite, data=st.data())
def test_a_file_with_any_value_anywhere_is_read_or_refused_in_one_line_in_bounded_memory(
    tmp_path_factory, document, value, data
):
    """Through the file: bytes on disk, the sha256 of a real model file, labels.txt beside it."""
    bundle = tmp_path_factory.mktemp("bundle")
    model = b"model bytes"
    (bundle / MODEL_FILE).write_bytes(model)
    write_labels(bundle / LABELS_FILE, document["labels"])
    document["model_sha256"] = sha256_bytes(model)
    for key in ("edgetpu_model_sha256", "referral", "heatmap_sha256"):
        document.pop(key, None)  # their files are not there
    path = data.draw(st.sampled_from(paths(document)[1:]))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    text = json.dumps(document)  # NaN and Infinity as Python's json writes (and reads) them
    (bundle / MANIFEST_FILE).write_text(text, encoding="utf-8")
    read = answer(lambda: read_manifest(bundle), BundleError, str(bundle))
    if read is not None:
        assert schema_problems(json.loads(text)) == []
    assert peak_memory(lambda: read_manifest(bundle)) < MEMORY_LIMIT
