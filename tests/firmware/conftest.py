"""Fixtures for the device-script tests (helpers live in helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_all.bundle import MODEL_FILE, BundleManifest, scores_only, write_manifest
from edge_all.digest import sha256_file
from edge_all.images import Preprocessing
from edge_all.labels import read_labels, write_labels
from edge_all.tensors import TensorSpec

from .helpers import RELEASES, SYSTEMD_TOOLS, Release, make_root


@pytest.fixture(params=RELEASES, ids=lambda release: release.codename)
def release(request) -> Release:
    """Each supported Raspberry Pi OS release in turn: every test on a Pi root runs on both."""
    return request.param


@pytest.fixture
def pi_root(tmp_path, release) -> Path:
    """A fake root that looks like Raspberry Pi OS (64-bit), Trixie and then Bookworm."""
    return make_root(tmp_path / "root", release)


@pytest.fixture
def debian_root(pi_root) -> Path:
    """The Pi root with Debian's users and groups, for real runs (systemd-sysusers, -tmpfiles and
    systemctl act on it through --root, so they must be installed here)."""
    missing = [tool for tool in SYSTEMD_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (real runs on a fake root use them)")
    (pi_root / "etc/group").write_text(
        "root:x:0:\nvideo:x:44:\nplugdev:x:46:\nusers:x:100:\n", encoding="utf-8"
    )
    (pi_root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    return pi_root


@pytest.fixture
def real_bundle(tmp_path, coral_models):
    """Coral's uint8 MobileNetV2 (a real TFLite model, third-party) wrapped in a bundle."""

    path = tmp_path / "mobilenet"
    path.mkdir()
    shutil.copy(coral_models / "mobilenet_v2_1.0_224_quant.tflite", path / MODEL_FILE)
    labels = read_labels(coral_models / "imagenet_labels.txt")
    write_labels(path / "labels.txt", labels)
    manifest = BundleManifest(
        labels=labels,
        input=TensorSpec(shape=(1, 224, 224, 3), dtype="uint8"),
        outputs=scores_only(TensorSpec(shape=(1, len(labels)), dtype="uint8")),
        preprocessing=Preprocessing(),
        precision="int8",
        model_sha256=sha256_file(path / MODEL_FILE),
        model_bytes=(path / MODEL_FILE).stat().st_size,
        float_model_bytes=None,
        source_run=None,
        accuracy_check=None,
        created="2026-01-01T00:00:00+00:00",
        edge_all_version="test",
    )
    write_manifest(path, manifest)
    return path
