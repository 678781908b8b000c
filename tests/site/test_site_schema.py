"""site.json has a published JSON Schema (docs/schemas/site.schema.json), and it tells the truth: what
the code writes validates, and what the schema refuses the reader refuses too (as for bundle.json)."""

from __future__ import annotations

import copy
import json

import pytest

jsonschema = pytest.importorskip("jsonschema")

from edge_all.jsonfile import JsonObject  # noqa: E402
from edge_all.site.profile import SiteError, SiteProfile, write_profile  # noqa: E402
from edge_all.triage.commissioning import commission, store_images  # noqa: E402
from edge_all.triage.thresholds import QualityThresholds  # noqa: E402
from tests.cli_runner import REPO, run_edge_all  # noqa: E402
from tests.site.conftest import write_fields  # noqa: E402

SCHEMA = json.loads((REPO / "docs" / "schemas" / "site.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def problems(document: dict) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


@pytest.fixture(scope="module")
def written(fields, tmp_path_factory) -> dict:
    site = tmp_path_factory.mktemp("schema-site")
    done = commission(
        store_images(sorted(fields.iterdir()), site, print), "ab" * 32, QualityThresholds(), 0.3
    )
    write_profile(site, done.profile)
    return json.loads((site / "site.json").read_text(encoding="utf-8"))


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_what_write_profile_writes_is_valid(written):
    assert problems(written) == []


def test_what_the_command_writes_is_valid_ready_or_not(tmp_path):
    some = write_fields(tmp_path / "some", count=11)
    (some / "broken.png").write_bytes(b"no")
    done = run_edge_all("commission", some, "--out", tmp_path / "site")
    assert done.returncode == 1 and "NOT READY" in done.stdout
    document = json.loads((tmp_path / "site" / "site.json").read_text(encoding="utf-8"))
    assert document["verdict"]["ready"] is False and len(document["skipped"]) == 1
    assert problems(document) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("scale"),
        lambda d: d.update(format_version=3),
        lambda d: d.pop("threshold"),
        lambda d: d["stain"].update(means=[1.0, 2.0]),
        lambda d: d["verdict"].update(ready="yes"),
        lambda d: d["quality"]["focus"].update(median="sharp"),
        lambda d: d["scale"].update(images_measured=1.5),
    ],
)
def test_what_the_schema_refuses_the_reader_refuses(written, damage):
    document = copy.deepcopy(written)
    damage(document)
    assert problems(document)
    with pytest.raises(SiteError):
        SiteProfile.from_dict(JsonObject(document, "site.json", SiteError))
