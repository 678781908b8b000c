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

from edge_all.digest import sha256_file
from edge_all.runtime.bundle import MODEL_FILE, BundleManifest, scores_only, write_manifest
from edge_all.runtime.images import Preprocessing
from edge_all.runtime.labels import write_labels
from edge_all.runtime.tensors import TensorSpec

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "firmware_scripts"
VENV = Path(sys.prefix)  # the venv running the tests has edge_all installed, like the device's


@dataclass(frozen=True)
class Release:
    """A Raspberry Pi OS (64-bit) release as a fake root shows it: the os-release it ships (the
    64-bit edition reports itself as Debian) and how it configures the Raspberry Pi apt archive,
    where picamera2 comes from: one-line format on Bookworm, deb822 (`.sources`) on Trixie."""

    codename: str
    os_release: str
    raspi_source: str  # its file name in /etc/apt/sources.list.d
    raspi_source_text: str


BOOKWORM = Release(
    codename="bookworm",
    os_release="""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
""",
    raspi_source="raspi.list",
    raspi_source_text="deb http://archive.raspberrypi.com/debian/ bookworm main\n",
)
TRIXIE = Release(
    codename="trixie",
    os_release="""PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
ID=debian
HOME_URL="https://www.debian.org/"
""",
    raspi_source="raspi.sources",
    raspi_source_text="""Types: deb
URIs: http://archive.raspberrypi.com/debian/
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/raspberrypi-archive-keyring.pgp
""",
)
RELEASES = (TRIXIE, BOOKWORM)

# 32-bit Raspberry Pi OS says raspbian (and is stopped by the architecture check first).
RASPBIAN_32 = """PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"
NAME="Raspbian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=raspbian
ID_LIKE=debian
"""
RASPBIAN_32_TRIXIE = """PRETTY_NAME="Raspbian GNU/Linux 13 (trixie)"
NAME="Raspbian GNU/Linux"
VERSION_ID="13"
VERSION_CODENAME=trixie
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
UBUNTU_2404 = """PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
"""
# Another distribution built on Debian that keeps Debian's codename (synthetic: the check must go by
# ID, since such a system's packages and Python need not be Debian's).
DERIVATIVE = """PRETTY_NAME="ExampleOS 12"
NAME="ExampleOS"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=exampleos
ID_LIKE=debian
"""
# Debian testing after Trixie: a codename and no VERSION_ID.
DEBIAN_TESTING = """PRETTY_NAME="Debian GNU/Linux forky/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=forky
ID=debian
"""
# What the scripts run against a fake root (--root) for real, besides coreutils.
SYSTEMD_TOOLS = ("systemd-sysusers", "systemd-tmpfiles", "systemctl")
PI_ENV = {"EDGE_ALL_ARCH": "aarch64", "EDGE_ALL_DPKG_ARCH": "arm64"}
PC_ENV = {"EDGE_ALL_ARCH": "x86_64", "EDGE_ALL_DPKG_ARCH": "amd64"}


def make_root(
    path: Path, release: Release = BOOKWORM, raspberry_pi: bool = True, os_release: str | None = None
) -> Path:
    """A fake root: the release's etc/os-release (or another given as os_release), and its
    Raspberry Pi apt source when it plays a Pi (without it, it plays a Debian PC)."""
    (path / "etc").mkdir(parents=True, exist_ok=True)
    (path / "etc" / "os-release").write_text(os_release or release.os_release, encoding="utf-8")
    if raspberry_pi:
        sources = path / "etc" / "apt" / "sources.list.d"
        sources.mkdir(parents=True, exist_ok=True)
        (sources / release.raspi_source).write_text(release.raspi_source_text, encoding="utf-8")
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
        outputs=scores_only(TensorSpec(shape=(1, len(labels)), dtype="float32")),
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
