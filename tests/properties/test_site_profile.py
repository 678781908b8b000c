"""The site profile (edge_all/site/profile.py) by property, against its published schema
(docs/schemas/site.schema.json): profiles generated from the schema's shape (checked against it) are
read, and written back (write_profile) read the same; mutated ones (a key dropped, another type, a
huge number, odd unicode, a NaN) are read exactly when the schema calls them valid, else refused with
one SiteError line; a site.json changed after it was written (any byte) is refused by its sha256.
The schema's one limit: 1.0 is an integer to JSON Schema, not to the reader.

Found: the reader took what the schema refuses: a bundle_model_sha256 or image sha256 that is no
sha256, an image with no name, a scale of 0 or below (which would scale every field to nothing),
a stain method or library other than the one it applies, a missing `um_per_px` or `reason`.
"""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from edge_all.jsonfile import JsonObject
from edge_all.site.profile import PROFILE_FILE, SiteError, SiteProfile, read_profile, write_profile

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
    peak_memory,
    schema_validator,
)

VALIDATOR = schema_validator("site")

sha256, finite = SHA256, FINITE
positive = st.floats(1e-6, 1e6)
counts = st.integers(0, 10_000)
baseline = st.fixed_dictionaries({"median": finite, "p5": finite, "p95": finite})
profiles = st.fixed_dictionaries(
    {
        "format_version": st.just(1),
        "created": odd_text,
        "bundle_model_sha256": sha256,
        "images": st.lists(st.fixed_dictionaries({
            "name": odd_text.filter(bool), "sha256": sha256, "um_per_px": st.none() | positive,
            "reason": st.none() | odd_text}), max_size=4),
        "skipped": st.lists(st.fixed_dictionaries({"file": odd_text, "reason": odd_text}), max_size=3),
        "scale": st.fixed_dictionaries({
            "um_per_px": positive, "spread": st.floats(0, 10), "images_measured": counts,
            "images_total": counts, "stated_um_per_px": st.none() | positive,
            "stated_difference": st.none() | st.floats(0, 10)}),
        "stain": st.fixed_dictionaries({
            "method": st.just("reinhard"), "library": st.just("torchstain"),
            "means": st.lists(finite, min_size=3, max_size=3), "images": counts,
            "stds": st.lists(finite, min_size=3, max_size=3)}),
        "quality": st.fixed_dictionaries({"um_per_px": positive, "focus": baseline, "glass": baseline,
                                          "brightness": baseline, "stained": baseline}),
        "verdict": st.fixed_dictionaries({"ready": st.booleans(), "reasons": st.lists(odd_text, max_size=3),
                                          "advice": st.lists(odd_text, max_size=3)}),
    }
)  # fmt: skip


def schema_valid(document) -> bool:
    text = json.dumps(document)
    return "NaN" not in text and "Infinity" not in text and VALIDATOR.is_valid(document)


def read(document) -> SiteProfile:
    return SiteProfile.from_dict(JsonObject.of(document, "site.json", SiteError))


@CHECKS
@given(document=profiles)
def test_a_valid_profile_is_read_and_written_back_as_it_was(tmp_path_factory, document):
    assert schema_valid(document)
    profile = read(document)
    site = tmp_path_factory.mktemp("site")
    write_profile(site, profile)
    assert read_profile(site) == profile
    assert schema_valid(json.loads((site / PROFILE_FILE).read_text(encoding="utf-8")))


def _integral_floats(document) -> bool:
    if isinstance(document, dict):
        return any(_integral_floats(v) for v in document.values())
    if isinstance(document, list):
        return any(_integral_floats(v) for v in document)
    return isinstance(document, float) and math.isfinite(document) and document.is_integer()


@CHECKS
@given(document=mutated(profiles, json_values | non_finite))
def test_a_mutated_profile_is_read_exactly_when_the_schema_calls_it_valid(document):
    valid = schema_valid(document)
    try:
        read(document)
    except SiteError as error:
        one_line(error, SiteError, "site.json")
        assert not valid or (_integral_floats(document) and "integer" in str(error)), str(error)
        return
    assert valid, f"the reader takes what the schema refuses: {next(VALIDATOR.iter_errors(document), None)}"


@CHECKS
@given(document=profiles, position=st.integers(0, 10**6), byte=st.integers(0, 255))
def test_a_profile_changed_after_it_was_written_is_refused_in_bounded_memory(
    tmp_path_factory, document, position, byte
):
    site = tmp_path_factory.mktemp("site")
    write_profile(site, read(document))
    path = site / PROFILE_FILE
    data = bytearray(path.read_bytes())
    position %= len(data)
    if data[position] == byte:
        return
    data[position] = byte
    path.write_bytes(bytes(data))
    assert answer(lambda: read_profile(site), SiteError, f"{path}: ") is None
    assert peak_memory(lambda: read_profile(site)) < MEMORY_LIMIT
