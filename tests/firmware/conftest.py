"""Fixtures for the device-script tests (helpers live in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import make_root


@pytest.fixture
def pi_root(tmp_path) -> Path:
    """A fake root that looks like Raspberry Pi OS Bookworm 64-bit."""
    return make_root(tmp_path / "root")
