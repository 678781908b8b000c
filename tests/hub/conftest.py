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
from tests.station.helpers import SeededField, seed_slide, smear_png


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


CELL_LABELS = ["Early", "Pre", "Pro", "Neutrophil", "Lymphocyte", "Platelet"]
CELL_ROLES = {"Early": "all_like", "Pre": "all_like", "Pro": "all_like", "Neutrophil": "not_all_like",
              "Lymphocyte": "not_all_like", "Platelet": "not_a_white_cell"}  # fmt: skip


def record_cell_slide(db: Path, sample_id: str) -> list[int]:
    """A cell model's slide as the capture records it (results schema 4+): a session with label
    roles; field 1 with an ALL-like cell (its box on the smear's white cell), a cleared one and a
    dropped platelet, at a site scale; field 2 with one cleared cell (on its white cell) and no scale
    (unknown). The boxes are in the 224x224 PNG's pixels."""
    import numpy as np

    from edge_all.results.judged import JudgedCell
    from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo
    from training.demo_data import draw_smear

    def white_cell(seed: int) -> tuple[int, int, int, int]:  # smear_png(..., "Benign", seed)'s cell
        ys, xs = np.nonzero(draw_smear("Benign", np.random.default_rng(seed))[1])
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    fields = [
        ("classified", "Pre", 0.9, 0.31, "site", (
            JudgedCell(white_cell(0), "Pre", 0.9, "all-like", None, 0.4),
            JudgedCell((20, 30, 60, 72), "Neutrophil", 0.85, "cleared"),
            JudgedCell((150, 10, 160, 20), "Platelet", 0.97, "dropped"),
        )),
        ("classified", "Neutrophil", 0.8, None, None, (
            JudgedCell(white_cell(1), "Neutrophil", 0.8, "cleared"),
        )),
    ]  # fmt: skip
    with ResultsStore.open(db) as store:
        session = store.start_session(
            SessionInfo(
                started_at="2026-03-03T08:00:00.000+00:00", source="video:cells.avi", sample_id=sample_id,
                model="bundles/cells", bundle_sha256="7c" * 32, labels=CELL_LABELS, threshold=0.6,
                quality_thresholds=None, edge_all_version="test", label_roles=CELL_ROLES,
            )
        )  # fmt: skip
        ids = []
        for index, (status, label, confidence, scale, source, cells) in enumerate(fields):
            image = smear_png(db.parent / "frames" / f"cells-{sample_id}-{index}.png", "Benign", index)
            ids.append(
                store.add(
                    CaptureRecord(
                        session_id=session, captured_at=f"2026-03-03T08:00:{index:02d}.000+00:00",
                        sample_id=sample_id, source="video:cells.avi", frame_index=index,
                        origin=f"video:cells.avi#{index}", status=status, bundle_sha256="7c" * 32,
                        image_path=str(image), label=label, confidence=confidence,
                        probabilities={label: confidence}, um_per_px=scale, scale_source=source, cells=cells,
                    )
                ).id
            )  # fmt: skip
        store.end_session(session, "2026-03-03T08:01:00.000+00:00", "seeded")
    return ids
