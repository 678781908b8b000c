"""The quality settings file (edge_all/triage/thresholds.py), by property: a JSON object of known
thresholds, each within what it can mean, is read as exactly those thresholds over the defaults, and
written back (to_dict) reads the same; anything else (any JSON, any bytes, a known key with a value
out of its range, of another type, NaN) is one QualityConfigError line naming the file. No bug found:
these properties passed on the code as it was (issue 26 allows that for a parser with none).
"""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from edge_all.triage.thresholds import QualityConfigError, QualityThresholds

from .strategies import (
    CHECKS,
    INPUT_LIMIT,
    MEMORY_LIMIT,
    answer,
    json_values,
    mutated,
    non_finite,
    peak_memory,
)

# What each threshold can mean (docs/capture.md): luma 0-255, fractions 0-1, focus any variance.
RANGES = {
    "min_brightness": (0.0, 255.0),
    "max_brightness": (0.0, 255.0),
    "max_clipped": (0.0, 1.0),
    "min_contrast": (0.0, 255.0),
    "min_stained": (0.0, 1.0),
    "min_focus": (0.0, 1e12),
}
settings_files = st.fixed_dictionaries(
    {},
    optional={
        name: st.floats(low, high) | st.integers(int(low), int(high)) for name, (low, high) in RANGES.items()
    },
)


def read(tmp_path, text: str):
    path = tmp_path / "quality.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path, answer(lambda: QualityThresholds.from_file(path), QualityConfigError, f"{path}: ")


@CHECKS
@given(values=settings_files)
def test_a_valid_settings_file_is_those_thresholds_and_reads_back_the_same(tmp_path, values):
    _, limits = read(tmp_path, json.dumps(values))
    assert limits == QualityThresholds().replace(**values)
    _, again = read(tmp_path, json.dumps(limits.to_dict()))
    assert again == limits


@CHECKS
@given(document=mutated(settings_files, json_values | non_finite))
def test_a_mutated_settings_file_is_thresholds_in_range_or_one_error(tmp_path, document):
    path, limits = read(tmp_path, json.dumps(document))
    valid = isinstance(document, dict) and all(
        name in RANGES
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and RANGES[name][0] <= value <= (math.inf if name == "min_focus" else RANGES[name][1])
        for name, value in document.items()
    )
    assert (limits is not None) == valid, (document, limits)
    assert peak_memory(lambda: QualityThresholds.from_file(path)) < MEMORY_LIMIT


@CHECKS
@given(content=st.binary(max_size=INPUT_LIMIT))
def test_any_bytes_are_thresholds_or_one_error(tmp_path, content):
    path = tmp_path / "quality.json"
    path.write_bytes(content)
    limits = answer(lambda: QualityThresholds.from_file(path), QualityConfigError, f"{path}: ")
    assert limits is None or all(math.isfinite(value) for value in limits.to_dict().values())
