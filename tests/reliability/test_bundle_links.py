"""Every file a bundle names must be a regular file inside the bundle directory, links resolved.

A bundle whose labels.txt was a link to a file outside it was accepted, because the sha256 (or the
labels) matched: the sha256 proves what a file holds, not where it lies, and the file outside may
change after the check, or be one the reader should never open. Now each file (bundle.json,
model.tflite, model_edgetpu.tflite, labels.txt, referral.npz, heatmap.npz) is resolved and must
lie under the bundle's own real path, as the station's pictures must lie under its frames folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from edge_all.runtime.bundle import (
    EDGETPU_MODEL_FILE,
    FILE_NAMES,
    HEATMAP_FILE,
    LABELS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    REFERRAL_FILE,
    BundleError,
    read_manifest,
)
from edge_all.runtime.models import reference_bundle
from tests.cli_runner import run_edge_all

NAMED = (MANIFEST_FILE, MODEL_FILE, LABELS_FILE, REFERRAL_FILE, HEATMAP_FILE, EDGETPU_MODEL_FILE)


def copied_bundle(tmp_path: Path) -> Path:
    """The reference bundle (it carries referral.npz and heatmap.npz), with an Edge TPU model recorded."""
    bundle = tmp_path / "bundle"
    shutil.copytree(reference_bundle(), bundle)
    edgetpu = b"an Edge TPU model stands here: only its sha256 and place are checked"
    (bundle / EDGETPU_MODEL_FILE).write_bytes(edgetpu)
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["edgetpu_model_sha256"] = hashlib.sha256(edgetpu).hexdigest()
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    read_manifest(bundle)  # whole and valid as it is
    return bundle


def moved_out_and_linked(bundle: Path, name: str, outside: Path) -> Path:
    """Move NAME out of the bundle and leave a link to it: the same bytes, somewhere else."""
    outside.mkdir(parents=True, exist_ok=True)
    target = outside / name
    shutil.move(bundle / name, target)
    (bundle / name).symlink_to(target)
    return target


@pytest.mark.parametrize("name", NAMED)
def test_a_file_linked_from_outside_the_bundle_is_refused_though_its_sha256_matches(tmp_path, name):
    bundle = copied_bundle(tmp_path)
    target = moved_out_and_linked(bundle, name, tmp_path / "elsewhere")
    with pytest.raises(BundleError) as refused:
        read_manifest(bundle)
    message = str(refused.value)
    assert message == (
        f"{bundle / name}: {FILE_NAMES[name]} leads to {target.resolve()}, outside {bundle.resolve()}; "
        "refusing it"
    )


def test_the_command_line_refuses_it_in_one_line(tmp_path):
    bundle = copied_bundle(tmp_path)
    moved_out_and_linked(bundle, LABELS_FILE, tmp_path / "elsewhere")
    done = run_edge_all("info", "--model", bundle, timeout=120)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {bundle / LABELS_FILE}: labels file leads"), done.stderr
    assert "Traceback" not in done.stderr


def test_a_link_to_another_file_of_the_bundle_and_a_linked_bundle_dir_are_fine(tmp_path):
    bundle = copied_bundle(tmp_path)
    os.rename(bundle / LABELS_FILE, bundle / "labels-v2.txt")
    (bundle / LABELS_FILE).symlink_to("labels-v2.txt")
    current = tmp_path / "current"
    current.symlink_to(bundle)  # the way an installed bundle is often named
    assert read_manifest(current).labels == read_manifest(bundle).labels


@pytest.mark.parametrize("kind", ["directory", "fifo", "broken link", "link to a device"])
def test_a_bundle_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    bundle = copied_bundle(tmp_path)
    labels = bundle / LABELS_FILE
    labels.unlink()
    if kind == "directory":
        labels.mkdir()
    elif kind == "fifo":
        os.mkfifo(labels)
    elif kind == "broken link":
        labels.symlink_to(bundle / "gone")
    else:
        labels.symlink_to("/dev/zero")
    with pytest.raises(BundleError, match=f"^{labels}: "):
        read_manifest(bundle)
