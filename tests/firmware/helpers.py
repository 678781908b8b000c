"""Helpers for the device-script tests: fake roots, real tiny bundles, running the scripts.

The scripts are run for real as subprocesses (bash), against a temporary directory passed as
--root, with EDGE_ALL_ARCH/EDGE_ALL_DPKG_ARCH standing in for the machine's architecture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from edge_all.bundle import MODEL_FILE, BundleManifest, write_manifest
from edge_all.digest import sha256_file
from edge_all.images import Preprocessing
from edge_all.labels import write_labels
from edge_all.tensors import TensorSpec

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "firmware_scripts"
VENV = Path(sys.prefix)  # the venv running the tests has edge_all installed, like the device's

RASPBERRY_PI_OS = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""
# 32-bit Raspberry Pi OS says raspbian; only the architecture check stops it.
RASPBIAN_32 = """PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"
NAME="Raspbian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=raspbian
ID_LIKE=debian
"""
DEBIAN_11 = """PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
VERSION_ID="11"
VERSION_CODENAME=bullseye
ID=debian
"""
UBUNTU_2204 = """PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
"""
# What the scripts run against a fake root (--root) for real, besides coreutils.
SYSTEMD_TOOLS = ("systemd-sysusers", "systemd-tmpfiles", "systemctl")
PI_ENV = {"EDGE_ALL_ARCH": "aarch64", "EDGE_ALL_DPKG_ARCH": "arm64"}
PC_ENV = {"EDGE_ALL_ARCH": "x86_64", "EDGE_ALL_DPKG_ARCH": "amd64"}


def make_root(path: Path, os_release: str = RASPBERRY_PI_OS, raspberry_pi: bool = True) -> Path:
    """A fake root: etc/os-release, and the Raspberry Pi apt source when it plays a Pi."""
    (path / "etc").mkdir(parents=True, exist_ok=True)
    (path / "etc" / "os-release").write_text(os_release, encoding="utf-8")
    if raspberry_pi:
        sources = path / "etc" / "apt" / "sources.list.d"
        sources.mkdir(parents=True, exist_ok=True)
        (sources / "raspi.list").write_text(
            "deb http://archive.raspberrypi.com/debian/ bookworm main\n", encoding="utf-8"
        )
    return path


def tree(path: Path) -> dict[str, bytes | str]:
    """Every file (content) and symlink (target) under path, to prove a dry run changed nothing."""
    state: dict[str, bytes | str] = {}
    for item in sorted(path.rglob("*")):
        key = str(item.relative_to(path))
        if item.is_symlink():
            state[key] = "-> " + os.readlink(item)
        elif item.is_file():
            state[key] = item.read_bytes()
        else:
            state[key] = "dir"
    return state


@dataclass(frozen=True)
class ScriptResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def actions(self) -> list[str]:
        """The "+ cmd" lines: what the script did, or would do under --dry-run."""
        return [line[2:] for line in self.stdout.splitlines() if line.startswith("+ ")]


def run_script(name: str, *args: str | Path, env: dict[str, str] | None = None) -> ScriptResult:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        ["bash", str(SCRIPTS / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    return ScriptResult(proc.returncode, proc.stdout, proc.stderr)


def make_bundle(
    path: Path, payload: bytes, labels: tuple[str, ...] = ("Benign", "Early", "Pre", "Pro")
) -> Path:
    """A bundle whose model.tflite is just `payload`: enough for the sha256 and labels checks."""
    path.mkdir(parents=True)
    (path / MODEL_FILE).write_bytes(payload)
    write_labels(path / "labels.txt", list(labels))
    manifest = BundleManifest(
        labels=list(labels),
        input=TensorSpec(shape=(1, 64, 64, 3), dtype="uint8"),
        output=TensorSpec(shape=(1, len(labels)), dtype="float32"),
        preprocessing=Preprocessing(),
        precision="int8",
        model_sha256=sha256_file(path / MODEL_FILE),
        model_bytes=len(payload),
        float_model_bytes=None,
        source_run="tests/firmware",
        accuracy_check=None,
        created=datetime.now(timezone.utc).isoformat(),
        edge_all_version="test",
    )
    write_manifest(path, manifest)
    return path
