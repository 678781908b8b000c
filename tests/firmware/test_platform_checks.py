"""Every install script refuses an unsupported OS or a 32-bit ARM machine, with a clear message."""

from __future__ import annotations

import pytest

from .helpers import (
    DEBIAN_11,
    PC_ENV,
    PI_ENV,
    RASPBERRY_PI_OS,
    RASPBIAN_32,
    UBUNTU_2204,
    make_root,
    run_script,
    tree,
)

INSTALLERS = ["install-pi.sh", "install-coral.sh"]


@pytest.mark.parametrize("script", INSTALLERS)
@pytest.mark.parametrize(
    ("os_release", "named"),
    [(DEBIAN_11, "Debian GNU/Linux 11 (bullseye)"), (UBUNTU_2204, "Ubuntu 22.04.4 LTS")],
    ids=["debian-11", "ubuntu-22.04"],
)
def test_unsupported_os_is_refused(tmp_path, script, os_release, named):
    root = make_root(tmp_path, os_release=os_release)
    result = run_script(script, "--root", root, "--dry-run", env=PI_ENV)
    assert result.returncode == 1
    assert f"unsupported OS: {named}" in result.stderr
    assert "Bookworm" in result.stderr
    assert result.actions == []  # refused before doing anything


@pytest.mark.parametrize("script", INSTALLERS)
def test_missing_os_release_is_refused(tmp_path, script):
    (tmp_path / "etc").mkdir()
    result = run_script(script, "--root", tmp_path, "--dry-run", env=PI_ENV)
    assert result.returncode == 1
    assert f"cannot read {tmp_path}/etc/os-release" in result.stderr


@pytest.mark.parametrize("script", INSTALLERS)
def test_32_bit_arm_is_refused_because_litert_has_no_wheels(tmp_path, script):
    root = make_root(tmp_path, os_release=RASPBIAN_32)
    result = run_script(script, "--root", root, "--dry-run", env={"EDGE_ALL_ARCH": "armv7l"})
    assert result.returncode == 1
    assert "32-bit ARM (armv7l) is not supported" in result.stderr
    assert "LiteRT" in result.stderr and "64-bit" in result.stderr
    assert result.actions == []


@pytest.mark.parametrize("script", INSTALLERS)
def test_32_bit_userland_on_a_64_bit_kernel_is_refused(tmp_path, script):
    """32-bit Raspberry Pi OS on a Pi 4/5 boots a 64-bit kernel: uname says aarch64, dpkg armhf."""
    root = make_root(tmp_path, os_release=RASPBIAN_32)
    env = {"EDGE_ALL_ARCH": "aarch64", "EDGE_ALL_DPKG_ARCH": "armhf"}
    result = run_script(script, "--root", root, "--dry-run", env=env)
    assert result.returncode == 1
    assert "32-bit Raspberry Pi OS (armhf packages on a aarch64 kernel) is not supported" in result.stderr


@pytest.mark.parametrize("script", INSTALLERS)
def test_unknown_architecture_is_refused(tmp_path, script):
    root = make_root(tmp_path)
    result = run_script(script, "--root", root, "--dry-run", env={"EDGE_ALL_ARCH": "riscv64"})
    assert result.returncode == 1
    assert "unsupported CPU architecture: riscv64" in result.stderr


@pytest.mark.parametrize("script", INSTALLERS)
@pytest.mark.parametrize("env", [PI_ENV, PC_ENV], ids=["aarch64", "x86_64"])
def test_supported_platforms_pass_and_a_dry_run_writes_nothing(tmp_path, script, env):
    root = make_root(tmp_path, os_release=RASPBERRY_PI_OS)
    before = tree(root)
    result = run_script(script, "--root", root, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "(supported)" in result.stdout
    assert result.actions, "a dry run shows what it would do"
    assert tree(root) == before


@pytest.mark.parametrize("script", [*INSTALLERS, "update-bundle.sh"])
def test_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage:")
    for option in ("--dry-run", "--root DIR", "--help"):
        assert option in result.stdout


@pytest.mark.parametrize("script", [*INSTALLERS, "update-bundle.sh"])
def test_bad_command_lines_exit_2(tmp_path, script):
    result = run_script(script, "--frobnicate")
    assert result.returncode == 2
    assert "unknown" in result.stderr and "--frobnicate" in result.stderr
    missing = run_script(script, "--root")
    assert missing.returncode == 2
    assert "--root needs a value" in missing.stderr
    no_dir = run_script(script, "--root", tmp_path / "nowhere", "--dry-run")
    assert no_dir.returncode == 2
    assert "no such directory" in no_dir.stderr
