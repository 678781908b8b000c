"""The hub's sync JSON by property: the real hub (`edge-all hub`, a subprocess, its SQLite mode) is
sent generated uploads. What docs/schemas/sync.schema.json calls valid is taken (200, an outcome per
record: stored, duplicate, or refused with its status and reason); what it calls invalid is a 400
whose JSON names where and why, in one line; any bytes at all, to every endpoint that reads a body,
are a 4xx with one line. Never a 5xx, and the hub's log never holds a traceback.
"""

from __future__ import annotations

import json
import math
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_all.sync.protocol import schema
from tests.hub.test_api import call, enrolled, field
from tests.servers.hub import prepare, start_hub

from .strategies import FEW, json_values, mutated, non_finite, odd_text

jsonschema = pytest.importorskip("jsonschema")
VALIDATOR = jsonschema.Draft202012Validator(schema())
# A device's own record: its text is UTF-8 (a lone surrogate cannot be hashed, so no device sends one).
device_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24)
fields = st.builds(field, sample=device_text, index=st.integers(0, 10_000))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    database = f"sqlite:///{tmp / 'hub.db'}"
    prepare(database, {"kisumu-1": "Kisumu"})
    server = start_hub(tmp, database)
    server.database = database
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()[-4000:]


@pytest.fixture(scope="module")
def token(hub) -> str:
    return enrolled(hub)


def refusal(status: int, data: bytes) -> str:
    """A 4xx's reason: JSON {"error": one line}."""
    assert 400 <= status < 500, (status, data[:500])
    why = json.loads(data)["error"]
    assert isinstance(why, str) and why and len(why.splitlines()) == 1, why
    return why


def is_valid(payload) -> bool:
    numbers = json.dumps(payload, allow_nan=True)
    return "NaN" not in numbers and "Infinity" not in numbers and VALIDATOR.is_valid(payload)


@FEW
@given(records=st.lists(mutated(fields, json_values | non_finite), min_size=1, max_size=3))
def test_an_upload_is_taken_exactly_when_the_schema_calls_it_valid(hub, token, records):
    payload = {"records": records}
    status, data = call(hub, "POST", "/records", json.dumps(payload).encode(), token)
    if not is_valid(payload):
        refusal(status, data)
        assert status == 400
        return
    assert status == 200, (status, data[:500])
    results = json.loads(data)["results"]
    assert len(results) == len(records)
    for result in results:
        assert result["outcome"] in ("stored", "duplicate", "refused"), result
        if result["outcome"] == "refused":
            assert 400 <= result["status"] < 500 and len(str(result["why"]).splitlines()) == 1, result


HOSTILE_BODIES = [b"[" * 3000, b'{"code": 1' + b"0" * 5000 + b"}", b'{"records": [' + b"1" * 5000 + b"]}",
                  b'{"code": NaN}', b'{"records": [], "x": Infinity}', b"\xff\xfe", b""]  # fmt: skip
bodies = (
    st.binary(max_size=2048)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.sampled_from(HOSTILE_BODIES)
)


@FEW
@given(path=st.sampled_from(["/records", "/enrol"]), body=bodies)
def test_any_body_is_answered_with_one_line_never_a_server_error(hub, token, path, body):
    status, data = call(hub, "POST", path, body, token if path == "/records" else None)
    if status >= 400:
        refusal(status, data)
    else:
        assert path == "/records" and status == 200, (status, data[:300])


@FEW
@given(after=odd_text | st.integers().map(str) | st.sampled_from(["9" * 5000, "1e9", "-1", "nan"]))
def test_signoffs_after_anything_is_answered(hub, token, after):
    query = urllib.parse.quote(after, errors="surrogatepass")
    status, data = call(hub, "GET", f"/signoffs?after={query}", token=token)
    if status >= 400:
        refusal(status, data)
    else:
        assert status == 200 and isinstance(json.loads(data)["signoffs"], list)


def test_the_property_module_is_not_vacuous():
    """The generated uploads include valid ones: the base record is valid, and NaN is not JSON."""
    assert is_valid({"records": [field()]})
    assert not is_valid({"records": [dict(field(), body={**field()["body"], "confidence": math.nan})]})
