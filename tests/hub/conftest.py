"""Fixtures for the hub: real PostgreSQL and SeaweedFS servers (once per session), clinics' results
databases recorded the way the capture loop records them, and an `edge-all` subprocess runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.postgres import remove, start_postgres
from tests.servers.seaweed import start_seaweed
from tests.station.helpers import SeededField, seed_slide


@pytest.fixture(scope="session")
def postgres():
    cluster = start_postgres()
    yield cluster
    remove(cluster)


@pytest.fixture(scope="session")
def seaweed():
    server = start_seaweed()
    yield server
    server.stop()


def edge_all(*args: str, timeout: float = 120, check: bool = True, input: str | None = None):
    result = subprocess.run([sys.executable, "-m", "edge_all", *args], capture_output=True, text=True,
                            timeout=timeout, input=input)  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"edge-all {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def sync(db: Path, credential: Path, *extra: str, check: bool = True) -> dict:
    result = edge_all("sync", "--db", str(db), "--credential", str(credential), "--json", *extra, check=check)
    return (
        json.loads(result.stdout.strip().splitlines()[-1])
        if result.returncode == 0
        else {"error": result.stderr}
    )


def record_slide(db: Path, sample_id: str, n: int = 4, flagged: bool = True) -> list[int]:
    """A slide of n fields with real PNG pictures: one ALL-like and one referred when flagged."""
    fields = [SeededField("classified", "Benign", 0.95) for _ in range(n)]
    if flagged and n >= 2:
        fields[0] = SeededField("classified", "Pre", 0.91)
        fields[1] = SeededField(
            "referred", "Early", 0.7, reason="unlike the images this model was trained on"
        )
    return seed_slide(db, db.parent / "frames", sample_id, fields)
