"""Every install script runs on Raspberry Pi OS (64-bit) Trixie or Bookworm and Debian 13/12 PCs,
and refuses anything else (another distribution or release, 32-bit ARM) with one clear line,
before it does anything."""

from __future__ import annotations

import pytest

from .helpers import (
    DEBIAN_11,
    DEBIAN_TESTING,
    DERIVATIVE,
    PC_ENV,
    PI_ENV,
    RASPBIAN_32,
    RASPBIAN_32_TRIXIE,
    RELEASES,
    UBUNTU_2204,
    UBUNTU_2404,
    make_root,
    run_script,
    tree,
)

INSTALLERS = ["install-pi.sh", "install-coral.sh"]


def assert_refused_in_one_line(result, script: str, message: str) -> None:
    """Exit 1, one line on stderr naming the problem, nothing on stdout, nothing done."""
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{script}: error: ")
    assert message in lines[0]


@pytest.mark.parametrize("script", INSTALLERS)
@pytest.mark.parametrize(
    ("os_release", "named"),
    [
        (DEBIAN_11, "Debian GNU/Linux 11 (bullseye)"),
        (DEBIAN_TESTING, "Debian GNU/Linux forky/sid"),
        (UBUNTU_2204, "Ubuntu 22.04.4 LTS"),
        (UBUNTU_2404, "Ubuntu 24.04.1 LTS"),
        (DERIVATIVE, "ExampleOS 12"),
    ],
    ids=["debian-11", "debian-testing", "ubuntu-22.04", "ubuntu-24.04", "derivative"],
)
def test_unsupported_os_is_refused(tmp_path, script, os_release, named):
    root = make_root(tmp_path, os_release=os_release)
    result = run_script(script, "--root", root, "--dry-run", env=PI_ENV)
    assert_refused_in_one_line(result, script, f"unsupported OS: {named}")
    assert "Trixie" in result.stderr and "Bookworm" in result.stderr  # says what would do


@pytest.mark.parametrize("script", INSTALLERS)
def test_missing_os_release_is_refused(tmp_path, script):
    (tmp_path / "etc").mkdir()
    result = run_script(script, "--root", tmp_path, "--dry-run", env=PI_ENV)
    assert_refused_in_one_line(result, script, f"cannot read {tmp_path}/etc/os-release")


@pytest.mark.parametrize("script", INSTALLERS)
@pytest.mark.parametrize("machine", ["armv7l", "armv6l"])
@pytest.mark.parametrize("os_release", [RASPBIAN_32_TRIXIE, RASPBIAN_32], ids=["trixie", "bookworm"])
def test_32_bit_arm_is_refused_because_litert_has_no_wheels(tmp_path, script, machine, os_release):
    root = make_root(tmp_path, os_release=os_release)
    result = run_script(script, "--root", root, "--dry-run", env={"EDGE_ALL_ARCH": machine})
    assert_refused_in_one_line(result, script, f"32-bit ARM ({machine}) is not supported")
    assert "LiteRT" in result.stderr and "Raspberry Pi OS (64-bit)" in result.stderr


@pytest.mark.parametrize("script", INSTALLERS)
@pytest.mark.parametrize("os_release", [RASPBIAN_32_TRIXIE, RASPBIAN_32], ids=["trixie", "bookworm"])
def test_32_bit_userland_on_a_64_bit_kernel_is_refused(tmp_path, script, os_release):
    """32-bit Raspberry Pi OS on a Pi 4/5 boots a 64-bit kernel: uname says aarch64, dpkg armhf."""
    root = make_root(tmp_path, os_release=os_release)
    env = {"EDGE_ALL_ARCH": "aarch64", "EDGE_ALL_DPKG_ARCH": "armhf"}
    result = run_script(script, "--root", root, "--dry-run", env=env)
    assert_refused_in_one_line(
        result, script, "32-bit Raspberry Pi OS (armhf packages on a aarch64 kernel) is not supported"
    )


@pytest.mark.parametrize("script", INSTALLERS)
def test_unknown_architecture_is_refused(tmp_path, script):
    root = make_root(tmp_path)
    result = run_script(script, "--root", root, "--dry-run", env={"EDGE_ALL_ARCH": "riscv64"})
    assert_refused_in_one_line(result, script, "unsupported CPU architecture: riscv64")


@pytest.mark.parametrize("script", INSTALLERS)
@pytest.mark.parametrize("release", RELEASES, ids=lambda release: release.codename)
@pytest.mark.parametrize(
    ("env", "arch"),
    [(PI_ENV, "aarch64 (arm64 packages)"), (PC_ENV, "x86_64 (amd64 packages)")],
    ids=["aarch64", "x86_64"],
)
def test_supported_platforms_pass_and_a_dry_run_writes_nothing(tmp_path, script, release, env, arch):
    root = make_root(tmp_path, release, raspberry_pi=env is PI_ENV)
    before = tree(root)
    result = run_script(script, "--root", root, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    version = {"trixie": "13", "bookworm": "12"}[release.codename]
    platform = f"platform: Debian GNU/Linux {version} ({release.codename}), {arch} (supported)"
    assert f"{script}: {platform}\n" in result.stdout
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
