"""Fixtures for the device-script tests (helpers live in helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
def real_bundle(tmp_path, int8_bundle):
    """A copy of the suite's own int8 bundle (trained, converted and gated here): a real TFLite model."""
    path = tmp_path / "int8-bundle"
    shutil.copytree(int8_bundle, path)
    return path
