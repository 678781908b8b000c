"""Run the real `edge-all` command in a subprocess, exactly as a user would (`python -m edge_all ...`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_edge_all(
    *args: object, env: dict[str, str] | None = None, timeout: float = 300, **kwargs
) -> subprocess.CompletedProcess:
    """`env` adds to this process's environment; TensorFlow's start-up chatter is turned down."""
    return subprocess.run(
        [sys.executable, "-m", "edge_all", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        **kwargs,
    )
