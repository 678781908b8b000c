"""What every property test of a parser shares: its Hypothesis settings, the generators of hostile
values (any JSON, odd unicode, mutations of a valid document), and the checks of its answer.

The settings are property_checks.py's (tests/reliability): derandomized (the same examples in every
run, so CI is deterministic), no example database, few examples (the folder adds well under a
minute on 2 cores); here each example also has a deadline, so a parser that hangs fails its test.
"""

from __future__ import annotations

import copy
import json
import math
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from edge_all.errors import EdgeAllError

CHECKS = settings(
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=5),  # one example: a parser that hangs fails here
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(CHECKS, max_examples=15)  # for examples that start a database or a web request

# Memory: the bound each parser is held to, for inputs up to INPUT_LIMIT (tracemalloc's peak of the
# Python heap while it parses; property_checks.py bounds images the same way).
MEMORY_LIMIT = 16 << 20  # 16 MiB
INPUT_LIMIT = 64 << 10  # 64 KiB: the largest input generated below (a small file's own limit is 4 MiB)

T = TypeVar("T")
SHA256 = st.text("0123456789abcdef", min_size=64, max_size=64)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def schema_validator(name: str) -> Any:
    """A validator of the published docs/schemas/NAME.schema.json: what "valid" means for its parser."""
    import jsonschema  # a dev dependency, as Hypothesis is

    path = Path(__file__).resolve().parents[2] / "docs" / "schemas" / f"{name}.schema.json"
    return jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


# Text a user or another lab's software could give: any code point (lone surrogates, which a file name
# that is not UTF-8 becomes, included), control characters, bidirectional overrides, combining marks.
EVERY_CATEGORY = [
    "Lu",
    "Ll",
    "Lt",
    "Lm",
    "Lo",
    "Mn",
    "Mc",
    "Me",
    "Nd",
    "Nl",
    "No",
    "Pc",
    "Pd",
    "Ps",
    "Pe",
    "Pi",
    "Pf",
    "Po",
    "Sm",
    "Sc",
    "Sk",
    "So",
    "Zs",
    "Zl",
    "Zp",
    "Cc",
    "Cf",
    "Cs",
    "Co",
    "Cn",
]
odd_text = st.text(st.characters(categories=EVERY_CATEGORY), max_size=24) | st.sampled_from(
    ["", " ", "\n", "\r\n", "\x00", "\u202e", "e\u0301", "=1+1", "-2", "@x", "\t=x", "ÿ", "\udcff", "😀"]
)
huge_numbers = st.sampled_from([2**63, -(2**63) - 1, 10**30, 1e308, -1e308, 5e-324, 2**53 + 1, 0, -0.0])
json_scalars = (
    st.none() | st.booleans() | st.integers() | huge_numbers | st.floats(allow_nan=False) | odd_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


def one_line(error: BaseException, kind: type[EdgeAllError], starts: str = "") -> None:
    """The product's answer to a bad input: its own error type, one line, naming what it read."""
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    message = str(error)
    assert len(message.splitlines()) == 1, repr(message)  # no line break of any kind
    assert message.startswith(starts), (starts, message)
    assert "Traceback" not in message


def answer(parse: Callable[[], T], kind: type[EdgeAllError], starts: str = "") -> T | None:
    """parse()'s value, or None when it refused with `kind` in one line; any other exception fails."""
    try:
        return parse()
    except EdgeAllError as error:
        one_line(error, kind, starts)
        return None


def peak_memory(work: Callable[[], Any]) -> int:
    """The peak of Python's heap (tracemalloc) while `work` runs, in bytes; errors are the caller's."""
    tracemalloc.start()
    try:
        work()
    except EdgeAllError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a JSON document (objects' keys and lists' indexes), the root's first."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(paths(value, (*prefix, index)))
    return found


@st.composite
def mutated(draw, documents: st.SearchStrategy, values: st.SearchStrategy = json_values) -> Any:
    """A valid document with one thing changed: a key dropped, a value replaced (wrong type, huge
    number, odd unicode, nested junk), or a key added, anywhere in it."""
    document = copy.deepcopy(draw(documents))
    path = draw(st.sampled_from(paths(document)))
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if not path:
        return draw(values) if action == "replace" else document
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if action == "drop":
        del parent[path[-1]]
    elif action == "replace" or isinstance(parent, list):
        parent[path[-1]] = draw(values)
    else:
        parent[draw(odd_text)] = draw(values)
    return document
