"""Fixtures for the hostile and unlucky cases: the suite's real bundle, real smear images, and real
`edge-all` processes that can be watched, signalled and killed while they run."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_runner import REPO

CLASSES = ("Benign", "Early", "Pre", "Pro")


@pytest.fixture(scope="session")
def smears() -> list[np.ndarray]:
    """Synthetic demo smears (two per class) that pass the quality gate."""
    from training.demo_data import draw_smear

    rng = np.random.default_rng(11)
    return [draw_smear(CLASSES[i % 4], rng)[0] for i in range(8)]


def edge_all_limited(
    *args: object, address_space: int = 2 << 30, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`edge-all ARGS` in a process that cannot map more than `address_space` bytes (RLIMIT_AS).

    For inputs that once asked for gigabytes (a strip image, labels linked to /dev/zero): a
    regression then fails its test with a MemoryError instead of getting the kernel to kill
    whatever is biggest on the machine.
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return subprocess.run(
        [sys.executable, "-m", "edge_all", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, preexec_fn=limit,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip


def save_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


class Running:
    """A real `edge-all` process in the background: its stdout lines can be waited for."""

    def __init__(self, *args: object) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_all", *map(str, args)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        self.lines: list[bytes] = []
        self._partial = b""
        os.set_blocking(self.process.stdout.fileno(), False)

    def wait_for_lines(self, count: int, timeout: float = 60.0) -> list[bytes]:
        """Wait until the process has printed `count` stdout lines (one per recorded frame)."""
        deadline = time.monotonic() + timeout
        while True:
            chunk = self.process.stdout.read() or b""
            *done, self._partial = (self._partial + chunk).split(b"\n")
            self.lines += done
            if len(self.lines) >= count:
                return self.lines
            if not chunk and self.process.poll() is not None:
                raise AssertionError(f"ended after {len(self.lines)} lines: {self.finish()}")
            assert time.monotonic() < deadline, f"only {len(self.lines)} lines after {timeout} s"
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        """Wait for the end; (exit code, all stdout, stderr)."""
        os.set_blocking(self.process.stdout.fileno(), True)
        out, err = self.process.communicate(timeout=timeout)
        text = b"".join(line + b"\n" for line in self.lines) + self._partial + out
        return self.process.returncode, text.decode(), err.decode()

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)


@pytest.fixture
def running() -> Iterator[type[Running]]:
    """Start `Running(...)` processes; any still alive at the end of the test is killed."""
    started: list[Running] = []

    class Tracked(Running):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait()
