"""Run the real `edge-all` command in a subprocess, exactly as a user would (`python -m edge_all ...`).

`blocked` names packages whose import fails there, as on a device that lacks them; `python_with`
runs any snippet of Python that way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The ML frameworks the device runtime must never need.
HEAVY = ("tensorflow", "keras", "jax", "torch")
# JAX with two simulated CPU devices: what --distribute trains on in tests (a run that does not
# distribute uses the first one and computes exactly as with one device), and the tiny run of the
# `jax_run` fixture (conftest).
JAX_TWO_DEVICES = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
JAX_RUN_ARGS = ("--backbone", "tiny", "--weights", "none", "--epochs", "2", "--image-size", "32", "--quiet")

_BLOCKER = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Blocker())
"""
# Runs edge-all's __main__, then reports on stderr which HEAVY packages the command imported.
_EDGE_ALL = f"""
import atexit, runpy
HEAVY = {HEAVY!r}
atexit.register(lambda: print("imported:", sorted(m for m in HEAVY if m in sys.modules), file=sys.stderr))
sys.argv = ["edge-all", *sys.argv[1:]]
runpy.run_module("edge_all", run_name="__main__")
"""


def _env(env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment plus `env`; TensorFlow's start-up chatter is turned down."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}


def run_edge_all(
    *args: object, env: dict[str, str] | None = None, timeout: float = 300, **kwargs
) -> subprocess.CompletedProcess:
    """`env` adds to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "edge_all", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env=_env(env),
        **kwargs,
    )


def start_edge_all(*args: object, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`edge-all ARGS` started in the background (to watch, signal or kill); its output goes to `log`."""
    with open(log, "w") as output:  # the child keeps its own copy of the file
        return subprocess.Popen(
            [sys.executable, "-m", "edge_all", *map(str, args)],
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            env=_env(env),
        )


def python_with(
    code: str, *args: object, blocked: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `code` (after the blocker of `blocked` is in place) in a fresh interpreter."""
    script = f"BLOCKED = {set(blocked)!r}\n" + _BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=_env(env),
    )


def run_edge_all_watched(
    *args: object, blocked: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess, str]:
    """Run edge-all with `blocked` packages failing to import; also return its `imported: [...]` line.

    The returned process's stderr no longer holds that line, so it reads as the user's would.
    """
    done = python_with(_EDGE_ALL, *args, blocked=blocked)
    *lines, imported = done.stderr.rstrip("\n").split("\n")
    assert imported.startswith("imported: "), done.stderr
    done.stderr = "".join(f"{line}\n" for line in lines)
    return done, imported.removeprefix("imported: ")
