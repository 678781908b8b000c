"""Fixtures of the standards tests: a real Orthanc and a real FHIR engine per module (defined in
tests/servers/standards.py, which the hub's tests share), and dciodvfy."""

from __future__ import annotations

import shutil

import pytest

from tests.servers.standards import fhir_engine, orthanc, unavailable  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session")
def dciodvfy():
    if shutil.which("dciodvfy") is None:
        unavailable("dciodvfy is not installed (apt-get install dicom3tools)")
    return True
