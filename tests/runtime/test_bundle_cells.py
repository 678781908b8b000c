"""Bundle format 3 (a cell model): read back as written, format 1/2 read as whole-field models, and
every label's role checked at load; the published schema and the reader agree on it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from edge_all.runtime.bundle import (
    CELLS_FORMAT_VERSION,
    MANIFEST_FILE,
    BundleError,
    BundleManifest,
    CellCrop,
    Scale,
    Stain,
    read_manifest,
)
from tests.cli_runner import REPO

from .test_bundle_manifest import LABELS, manifest, write_bundle

ROLES = {"Benign": "not_all_like", "Early": "all_like", "Pre": "all_like", "Pro": "refer"}
STAIN = Stain("reinhard", "torchstain", (87.13, 2.21, -9.24), (11.97, 10.44, 15.32))


def cells_manifest(**changes) -> BundleManifest:
    base = manifest(
        format_version=CELLS_FORMAT_VERSION,
        reads="cells",
        scale=Scale(0.55),
        cell_crop=CellCrop(64),
        stain=STAIN,
        label_roles=dict(ROLES),
    )
    return replace(base, **changes)


def as_written(recorded: BundleManifest) -> dict:
    return json.loads(json.dumps(recorded.to_dict()))


def test_a_format_3_bundle_reads_back_as_written(tmp_path):
    recorded = cells_manifest()
    bundle = write_bundle(tmp_path / "bundle", recorded)
    document = json.loads((bundle / MANIFEST_FILE).read_text())
    assert document["scale"] == {"um_per_px": 0.55} and document["cell_crop"] == {"size_px": 64}
    assert document["stain"]["method"] == "reinhard" and document["label_roles"] == ROLES
    read = read_manifest(bundle)
    assert read == recorded and read.reads_cells


def test_a_stain_of_none_needs_no_statistics():
    document = as_written(cells_manifest(stain=Stain("none")))
    assert document["stain"] == {"method": "none"}
    assert BundleManifest.from_dict(document).stain == Stain("none")


@pytest.mark.parametrize("version", [1, 2])
def test_format_1_and_2_bundles_read_as_whole_field_models(version):
    document = as_written(manifest())
    assert "reads" not in document and "label_roles" not in document  # never written into them
    if version == 1:
        del document["outputs"]
        document.update(format_version=1, output={"shape": [1, 4], "dtype": "float32"})
    read = BundleManifest.from_dict(document)
    assert read.reads == "field" and not read.reads_cells and read.scale is None and read.label_roles == {}


def test_a_format_3_field_model_needs_no_scale():
    document = as_written(cells_manifest(reads="field", scale=None, cell_crop=None, stain=None))
    assert not {"scale", "cell_crop", "stain"} & set(document)  # left out, not null (tests/properties)
    assert BundleManifest.from_dict(document).reads == "field"


def _refusal(change) -> str:
    document = as_written(cells_manifest())
    change(document)
    with pytest.raises(BundleError) as caught:
        BundleManifest.from_dict(document)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(MANIFEST_FILE)
    return message


def test_an_unknown_role_is_refused_naming_the_label():
    message = _refusal(lambda d: d["label_roles"].update(Pro="maybe"))
    assert "'Pro'" in message and "'maybe'" in message


def test_a_label_without_a_role_is_refused():
    message = _refusal(lambda d: d["label_roles"].pop("Early"))
    assert "label 'Early' has no role" in message


def test_a_role_for_a_label_the_model_has_not_is_refused():
    assert "'platelet' is not one of the labels" in _refusal(
        lambda d: d["label_roles"].update(platelet="refer")
    )


def test_a_cell_model_without_its_scale_or_crop_is_refused():
    assert "missing key scale" in _refusal(lambda d: d.pop("scale"))
    assert "cell_crop.size_px" in _refusal(lambda d: d["cell_crop"].update(size_px=2))


def test_an_unsupported_stain_method_is_refused():
    assert "'macenko' is not supported" in _refusal(lambda d: d["stain"].update(method="macenko"))
    assert "target_stds" in _refusal(lambda d: d["stain"].update(target_stds=[1, 2]))


def test_the_description_says_what_the_model_reads():
    described = cells_manifest().describe()
    assert described["reads"] == "cells" and described["scale_um_per_px"] == 0.55
    assert described["label_roles"] == ROLES
    assert list(described["label_roles"]) == LABELS


# ---------------------------------------------------------------- the schema holds to the reader
jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads((REPO / "docs" / "schemas" / "bundle.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_a_format_3_manifest_is_valid():
    assert [e.message for e in VALIDATOR.iter_errors(as_written(cells_manifest()))] == []


REFUSED = {
    "an unknown role": lambda d: d["label_roles"].update(Pro="maybe"),
    "an unknown reading": lambda d: d.update(reads="tiles"),
    "no reads": lambda d: d.pop("reads"),
    "no scale": lambda d: d.pop("scale"),
    "no crop": lambda d: d.pop("cell_crop"),
    "no stain": lambda d: d.pop("stain"),
    "no label roles": lambda d: d.pop("label_roles"),
    "a scale as text": lambda d: d["scale"].update(um_per_px="0.55"),
    "a zero scale": lambda d: d["scale"].update(um_per_px=0),
    "a fractional crop": lambda d: d["cell_crop"].update(size_px=64.5),
    "Reinhard without its means": lambda d: d["stain"].pop("target_means"),
    "two stain means": lambda d: d["stain"].update(target_means=[1.0, 2.0]),
    "an unknown stain method": lambda d: d["stain"].update(method="vahadane"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_the_schema_refuses_in_format_3_the_reader_refuses(name):
    document = as_written(cells_manifest())
    REFUSED[name](document)
    assert list(VALIDATOR.iter_errors(document)), f"the schema accepts {name}"
    with pytest.raises(BundleError):
        BundleManifest.from_dict(document)
