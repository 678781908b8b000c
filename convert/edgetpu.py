"""Compile a bundle's int8 model for the Coral Edge TPU, when Google's compiler is installed.

The compiler exists for x86-64 Debian/Ubuntu only, so its absence is normal: the CPU bundle stays
valid and the user is told how to get the compiler.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_all.runtime.bundle import EDGETPU_MODEL_FILE, MODEL_FILE
from edge_all.safe_write import write_file

COMPILER = "edgetpu_compiler"
INSTALL_HINT = (
    f"{COMPILER} is not installed (it runs on x86-64 Debian/Ubuntu only): add Coral's apt repo "
    "(echo 'deb https://packages.cloud.google.com/apt coral-edgetpu-stable main' | "
    "sudo tee /etc/apt/sources.list.d/coral-edgetpu.list; "
    "curl https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo apt-key add -), then "
    "sudo apt-get update && sudo apt-get install edgetpu-compiler; the CPU bundle is complete without it"
)
LOG_FILE = "edgetpu_compiler.log"
TIMEOUT_S = 600


@dataclass(frozen=True)
class EdgeTpuOutcome:
    compiled: bool
    message: str  # one line for the user


def compile_for_edgetpu(bundle_dir: Path) -> EdgeTpuOutcome:
    """Run the compiler on bundle_dir/model.tflite, adding model_edgetpu.tflite and the compiler's log."""
    exe = shutil.which(COMPILER)
    if exe is None:
        return EdgeTpuOutcome(False, INSTALL_HINT)
    with tempfile.TemporaryDirectory(dir=bundle_dir) as out_dir:
        try:
            done = subprocess.run(
                [exe, "-s", "-o", out_dir, str(bundle_dir / MODEL_FILE)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return EdgeTpuOutcome(False, f"{COMPILER} could not run ({exc}); the CPU bundle is complete")
        write_file(bundle_dir / LOG_FILE, done.stdout + done.stderr, "the Edge TPU compiler's log")
        produced = Path(out_dir) / f"{Path(MODEL_FILE).stem}_edgetpu.tflite"
        if done.returncode != 0 or not produced.is_file():
            last = (done.stderr or done.stdout).strip().splitlines()
            reason = last[-1] if last else f"exit status {done.returncode}"
            return EdgeTpuOutcome(
                False, f"{COMPILER} failed ({reason}); see {LOG_FILE}; the CPU bundle is complete"
            )
        shutil.move(str(produced), bundle_dir / EDGETPU_MODEL_FILE)
    # With -s the compiler says how many ops it mapped to the Edge TPU and how many stay on the CPU.
    counts = [
        line.strip() for line in done.stdout.splitlines() if line.strip().startswith("Number of operations")
    ]
    detail = "; ".join(counts) if counts else f"log in {LOG_FILE}"
    return EdgeTpuOutcome(True, f"compiled {EDGETPU_MODEL_FILE} ({detail})")
