"""How long the benchmarks run, and small helpers to read pytest-benchmark's numbers.

Knobs (environment): EDGE_ALL_BENCH_ROUNDS (timed rounds per latency benchmark, default 30),
EDGE_ALL_BENCH_PROCESS_ROUNDS (fresh processes per start-up/memory benchmark, default 3).
"""

from __future__ import annotations

import os
import statistics

ROUNDS = int(os.environ.get("EDGE_ALL_BENCH_ROUNDS", "30"))
WARMUP = max(2, ROUNDS // 10)
PROCESS_ROUNDS = int(os.environ.get("EDGE_ALL_BENCH_PROCESS_ROUNDS", "3"))


def median_ms(benchmark) -> float:
    """pytest-benchmark's median of the timed rounds, in milliseconds (NaN under --benchmark-disable)."""
    if benchmark.stats is None:
        return float("nan")
    return benchmark.stats.stats.median * 1000.0


def median(values: list[float]) -> float:
    return float(statistics.median(values))
