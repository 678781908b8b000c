"""Fixtures for the speed, memory and size benchmarks (`make benchmark`, never part of `make test`).

Every benchmark records its numbers in one results file (benchmarks/results/latest.json, or
$EDGE_ALL_BENCH_RESULTS), and the end of the run prints the tables with their ratios and whether each
target is met (benchmarks/report.py; the same tables go into docs/performance.md).

Knobs: see benchmarks/settings.py; EDGE_ALL_BENCH_CACHE says where the random-weight bundles are
cached (benchmarks/models.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from benchmarks.models import BenchModel, build_backbone  # noqa: E402
from benchmarks.settings import PROCESS_ROUNDS, ROUNDS  # noqa: E402
from edge_all.runtime.benchmark import machine_facts  # noqa: E402

RESULTS_FILE = Path(
    os.environ.get("EDGE_ALL_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "latest.json")
)


class Results:
    """Numbers by section and case, written as JSON at the end of the session."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {
            "machine_at_start": machine_facts(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rounds": ROUNDS,
            "process_rounds": PROCESS_ROUNDS,
            "sections": {},
        }

    def put(self, section: str, case: str, **values: Any) -> None:
        self.data["sections"].setdefault(section, {}).setdefault(case, {}).update(values)

    def empty(self) -> bool:
        return not self.data["sections"]


RESULTS_KEY = pytest.StashKey[Results]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS_KEY] = Results()


@pytest.fixture(scope="session")
def results(pytestconfig: pytest.Config) -> Results:
    return pytestconfig.stash[RESULTS_KEY]


@pytest.fixture(scope="session")
def bench_models() -> Callable[[str], dict[str, BenchModel]]:
    """backbone -> {precision: BenchModel}, converted on first use and cached on disk."""
    built: dict[str, dict[str, BenchModel]] = {}

    def get(backbone: str) -> dict[str, BenchModel]:
        if backbone not in built:
            built[backbone] = build_backbone(backbone)
        return built[backbone]

    return get


@pytest.fixture(scope="session")
def smear_224():
    """One synthetic 224x224 smear as uint8 RGB (the dataset's image size)."""
    import numpy as np

    from edge_all.runtime.benchmark import synthetic_smear

    return synthetic_smear(np.random.default_rng(0), 224, 224)


def pytest_sessionfinish(session: pytest.Session) -> None:
    results = session.config.stash.get(RESULTS_KEY, None)
    if results is None or results.empty():
        return
    results.data["machine_at_end"] = machine_facts()
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS_FILE.with_name(RESULTS_FILE.name + ".partial")
    partial.write_text(json.dumps(results.data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, RESULTS_FILE)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if results is None or results.empty():
        return
    from benchmarks.report import format_report

    terminalreporter.write_sep("=", "edge-all benchmark summary")
    terminalreporter.write_line(format_report(results.data))
    terminalreporter.write_line(f"(results saved to {RESULTS_FILE}; `python -m benchmarks.report` for plots)")
