"""install-pi.sh: the actions of a dry run on a fake Raspberry Pi OS root, and a real run of the
parts that can act on a fake root (files, the service user, enabling the unit). Every test that
takes `pi_root` runs on Raspberry Pi OS Trixie and on Bookworm (conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .helpers import PC_ENV, PI_ENV, RELEASES, REPO, SCRIPTS, VENV, make_root, run_script, tree


def action(result, starts_with: str) -> str:
    matches = [line for line in result.actions if line.startswith(starts_with)]
    assert len(matches) == 1, f"expected one action starting {starts_with!r} in {result.actions}"
    return matches[0]


def test_dry_run_on_a_raspberry_pi(pi_root, release):
    result = run_script("install-pi.sh", "--root", pi_root, "--dry-run", env=PI_ENV)
    assert result.returncode == 0, result.stderr
    assert f"({release.codename}), aarch64 (arm64 packages) (supported)" in result.stdout

    # numpy, OpenCV and the camera stack come from apt (the same names on both releases);
    # the Pi is recognised by its Raspberry Pi apt source, raspi.list or (Trixie) raspi.sources.
    apt = action(result, "env DEBIAN_FRONTEND=noninteractive apt-get install")
    packages = set(apt.split()[apt.split().index("--no-install-recommends") + 1 :])
    expected = {"python3-picamera2", "python3-libcamera", "python3-numpy", "python3-opencv", "python3-venv"}
    assert expected <= packages
    assert result.actions.index("apt-get update") < result.actions.index(apt)

    # The venv sees apt's packages (picamera2 is never on PyPI).
    venv = action(result, "/usr/bin/python3 -m venv")
    assert venv == f"/usr/bin/python3 -m venv --system-site-packages {pi_root}/opt/edge-all/venv"

    # pip brings edge-all and, through it, LiteRT; never tflite-runtime (no wheels for Trixie's
    # Python 3.13), never TensorFlow, and no second numpy: apt's version is pinned.
    pip = action(result, f"{pi_root}/opt/edge-all/venv/bin/python -m pip install")
    words = pip.split()
    assert "edge-all" in words
    assert any(word.startswith("numpy==") for word in words), "apt's numpy is pinned for picamera2"
    assert "tensorflow" not in pip and "tflite" not in pip and "[" not in pip

    assert f"write {pi_root}/etc/systemd/system/edge-all.service (mode 0644):" in result.actions
    assert f"write {pi_root}/etc/edge-all/edge-all.env (mode 0644):" in result.actions
    assert f"systemd-sysusers --root={pi_root} edge-all.conf" in result.actions
    assert f"systemctl --root={pi_root} enable edge-all.service" in result.actions
    assert "EDGE_ALL_CAMERA=picamera2" in result.stdout

    # The checks run as the service user: they prove what the service itself can open.
    checks = [line for line in result.actions if line.startswith("runuser -u edge-all --")]
    assert any("import\\ picamera2" in line for line in checks)
    assert any("import\\ ai_edge_litert.interpreter" in line for line in checks), "LiteRT is the runtime"
    assert any(line.endswith("info --model /var/lib/edge-all/bundles/current") for line in checks)
    assert "apt-key" not in result.stdout


@pytest.mark.parametrize("release", RELEASES, ids=lambda release: release.codename)
def test_dry_run_on_a_debian_pc_skips_picamera2(tmp_path, release):
    root = make_root(tmp_path, release, raspberry_pi=False)
    result = run_script("install-pi.sh", "--root", root, "--dry-run", env=PC_ENV)
    assert result.returncode == 0, result.stderr
    assert f"({release.codename}), x86_64 (amd64 packages) (supported)" in result.stdout
    apt = action(result, "env DEBIAN_FRONTEND=noninteractive apt-get install")
    assert "python3-opencv" in apt and "picamera2" not in apt
    assert "not a Raspberry Pi: skipping picamera2" in result.stdout
    assert "EDGE_ALL_CAMERA=opencv:0" in result.stdout  # the first USB camera


def test_package_from_a_wheel_or_a_checkout(pi_root, tmp_path):
    wheel = tmp_path / "edge_all-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel: pip is not run in a dry run")
    result = run_script("install-pi.sh", "--root", pi_root, "--dry-run", "--package", wheel, env=PI_ENV)
    assert result.returncode == 0, result.stderr
    assert f"-m pip install --upgrade {wheel} numpy==" in result.stdout

    checkout = run_script("install-pi.sh", "--root", pi_root, "--dry-run", "--package", REPO, env=PI_ENV)
    assert checkout.returncode == 0, checkout.stderr
    assert f"-m pip install --upgrade {REPO} numpy==" in checkout.stdout


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ("edge-all[train]", "extras are not installed on the device"),
        ("./no/such/edge_all.whl", "no such file or directory"),
        ("/", "not an edge-all source checkout (no pyproject.toml)"),
    ],
)
def test_bad_package_is_refused(pi_root, package, message):
    result = run_script("install-pi.sh", "--root", pi_root, "--dry-run", "--package", package, env=PI_ENV)
    assert result.returncode == 1
    assert message in result.stderr
    assert not any("pip install" in line for line in result.actions)


def test_custom_venv_goes_into_the_unit(pi_root):
    result = run_script("install-pi.sh", "--root", pi_root, "--dry-run", "--venv", "/srv/ea", env=PI_ENV)
    assert result.returncode == 0, result.stderr
    assert "ExecStart=/srv/ea/bin/edge-all capture-and-classify" in result.stdout
    assert "/opt/edge-all/venv" not in result.stdout


def real_run(root, *args):
    return run_script("install-pi.sh", "--root", root, "--venv", VENV, "--skip-checks", *args, env=PI_ENV)


def test_real_run_on_a_fake_root_writes_the_files_and_creates_the_user(debian_root):
    root = debian_root
    result = real_run(root, "--camera", "opencv:1")
    assert result.returncode == 0, result.stderr
    # Commands that act on this machine are shown, not run, under --root.
    assert "apt-get update" in result.actions
    assert "(not run: --root" in result.stdout

    unit = (root / "etc/systemd/system/edge-all.service").read_text(encoding="utf-8")
    assert f"ExecStart={VENV}/bin/edge-all capture-and-classify" in unit
    env_file = (root / "etc/edge-all/edge-all.env").read_text(encoding="utf-8")
    assert "EDGE_ALL_CAMERA=opencv:1\n" in env_file
    assert "EDGE_ALL_MODEL=/var/lib/edge-all/bundles/current\n" in env_file

    passwd = (root / "etc/passwd").read_text(encoding="utf-8").splitlines()
    user = next(line for line in passwd if line.startswith("edge-all:"))
    uid, home, shell = user.split(":")[2], user.split(":")[5], user.split(":")[6]
    assert int(uid) < 1000, "a system user"
    assert (home, shell) == ("/var/lib/edge-all", "/usr/sbin/nologin")
    groups = (root / "etc/group").read_text(encoding="utf-8")
    assert "video:x:44:edge-all\n" in groups

    # The state directory exists, owned by the new user, before the service ever starts.
    state = root / "var/lib/edge-all"
    modes = {
        path.name: (path.stat().st_uid, oct(path.stat().st_mode & 0o777))
        for path in (state, state / "frames", state / "results.db", state / "bundles")
    }
    assert modes == {
        "edge-all": (int(uid), "0o751"),
        "frames": (int(uid), "0o750"),
        "results.db": (int(uid), "0o640"),
        "bundles": (0, "0o755"),
    }

    command = root / "usr/local/bin/edge-all"
    assert os.readlink(command) == f"{VENV}/bin/edge-all"

    scripts = root / "opt/edge-all/scripts"
    assert (scripts / "update-bundle.sh").read_bytes() == (SCRIPTS / "update-bundle.sh").read_bytes()
    assert os.access(scripts / "update-bundle.sh", os.X_OK)
    # The installed copy runs from its new place (it finds lib.sh beside it).
    listing = subprocess.run(
        ["bash", str(scripts / "update-bundle.sh"), "--root", str(root), "--list"],
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0 and "no models installed" in listing.stdout, listing.stderr

    wants = root / "etc/systemd/system/multi-user.target.wants/edge-all.service"
    assert wants.is_symlink() and os.readlink(wants) == "/etc/systemd/system/edge-all.service"


def test_real_run_again_changes_nothing_and_keeps_the_settings(debian_root):
    root = debian_root
    assert real_run(root).returncode == 0
    env_file = root / "etc/edge-all/edge-all.env"
    edited = env_file.read_text(encoding="utf-8").replace(
        "EDGE_ALL_SAMPLE_ID=unattended", "EDGE_ALL_SAMPLE_ID=ward-3"
    )
    env_file.write_text(edited, encoding="utf-8")
    before = tree(root)

    again = real_run(root, "--camera", "2")
    assert again.returncode == 0, again.stderr
    assert tree(root) == before
    assert f"{root}/etc/systemd/system/edge-all.service is up to date" in again.stdout
    assert "keeping its settings" in again.stdout
    assert "--camera 2 ignored" in again.stderr
    assert not any(line.startswith("write ") for line in again.actions)

    # Once more from the copy install-pi.sh left on the device: same result, nothing changes.
    installed = root / "opt/edge-all/scripts/install-pi.sh"
    from_device = subprocess.run(
        ["bash", str(installed), "--root", str(root), "--venv", str(VENV), "--skip-checks"],
        capture_output=True,
        text=True,
        env={**os.environ, **PI_ENV},
    )
    assert from_device.returncode == 0, from_device.stderr
    assert tree(root) == before


def test_dry_run_with_a_bundle_checks_it_and_shows_the_swap(pi_root, real_bundle):
    result = run_script(
        "install-pi.sh", "--root", pi_root, "--venv", VENV, "--dry-run", "--bundle", real_bundle, env=PI_ENV
    )
    assert result.returncode == 0, result.stderr
    assert "sha256 and labels match bundle.json" in result.stdout  # checks run even in a dry run
    store = f"{pi_root}/var/lib/edge-all/bundles"
    assert f"mv -T {store}/.current.new {store}/current" in result.actions
    assert not (pi_root / "var").exists()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to become nobody"
)
@pytest.mark.parametrize("script", ["install-pi.sh", "install-coral.sh", "update-bundle.sh"])
def test_a_real_install_needs_root(script, tmp_path):
    """Without --dry-run or --root, a non-root user is stopped before anything is done."""
    args = ["--rollback"] if script == "update-bundle.sh" else []
    proc = subprocess.run(
        ["runuser", "-u", "nobody", "--", "bash", str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **PI_ENV},
    )
    assert proc.returncode == 1
    assert "must run as root: try  sudo" in proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith("+ ")]


def test_check_only_installs_nothing(pi_root):
    result = run_script("install-pi.sh", "--root", pi_root, "--dry-run", "--check-only", env=PI_ENV)
    assert result.returncode == 0, result.stderr
    assert result.actions and all(line.startswith("runuser -u edge-all -- ") for line in result.actions)
    both = run_script("install-pi.sh", "--root", pi_root, "--check-only", "--skip-checks", env=PI_ENV)
    assert both.returncode == 2
