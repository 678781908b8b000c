"""Runs the property checks (property_checks.py: Hypothesis on random bytes, odd images, random
JSON; the extremes of image size) in a fresh process limited to 2 GiB of address space.

A fresh process, because this one holds TensorFlow (the suite trains the bundle in it), whose
allocator reserves many GiB of address space up front and reuses it: a memory limit here would
let an input take 19 GB before failing, as happened when these checks ran against the code before
its caps, and the kernel killed the whole test run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import REPO

ADDRESS_SPACE = 2 << 30  # the checks' process uses about 0.2 GiB before any image


def test_the_property_checks_hold_in_a_fresh_process_limited_to_2_gib(int8_bundle):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    checks = Path(__file__).with_name("property_checks.py")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::UserWarning", checks],
        cwd=REPO, capture_output=True, text=True, timeout=600, preexec_fn=limit,
        env={**os.environ, "EDGE_ALL_TEST_BUNDLE": str(int8_bundle)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
