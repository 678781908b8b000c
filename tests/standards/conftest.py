"""Fixtures of the standards tests: a real Orthanc and a real FHIR engine per module (servers.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.standards.servers import start_fhir_engine, start_orthanc, stop, unavailable


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    stop(server.process)


@pytest.fixture(scope="module")
def fhir_engine(tmp_path_factory):
    engine = start_fhir_engine(tmp_path_factory.mktemp("fhir"))
    yield engine
    stop(engine.process)


@pytest.fixture(scope="session")
def dciodvfy():
    if shutil.which("dciodvfy") is None:
        unavailable("dciodvfy is not installed (apt-get install dicom3tools)")
    return True
