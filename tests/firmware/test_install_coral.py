"""install-coral.sh: Coral's apt repository with its own keyring (signed-by, no apt-key), the
Edge TPU runtime, USB access through group plugdev; dry run and a real run on a fake root."""

from __future__ import annotations

from .helpers import PI_ENV, run_script, tree

KEYRING = "/etc/apt/keyrings/coral-edgetpu.gpg"
SOURCES_LINE = f"deb [signed-by={KEYRING}] https://packages.cloud.google.com/apt coral-edgetpu-stable main"


def test_dry_run_actions(pi_root):
    result = run_script("install-coral.sh", "--root", pi_root, "--dry-run", env=PI_ENV)
    assert result.returncode == 0, result.stderr
    actions = result.actions

    # No apt-key (removed from apt; it trusted a key for every repository): no command runs it.
    assert not any(word == "apt-key" for line in actions for word in line.split())
    assert "trusted.gpg" not in result.stdout
    key_download = next(line for line in actions if line.startswith("curl "))
    assert key_download.endswith("https://packages.cloud.google.com/apt/doc/apt-key.gpg")
    dearmor = next(line for line in actions if line.startswith("gpg --dearmor"))
    assert f"-o {pi_root}{KEYRING} " in dearmor
    assert f"write {pi_root}/etc/apt/sources.list.d/coral-edgetpu.list (mode 0644):" in actions
    # The sources line names the keyring by its path on the device, not inside --root.
    assert f"    | {SOURCES_LINE}\n" in result.stdout

    install = next(line for line in actions if "libedgetpu1-std" in line)
    # Google's package is known to crash with runtimes newer than TFLite 2.11: say so, point to --deb.
    assert "installing Google's libedgetpu 16.0, which is known to crash" in result.stderr
    assert "--deb" in result.stderr
    order = [actions.index(key_download), actions.index(dearmor), actions.index(install)]
    assert order == sorted(order), "key and repository come before the package"
    assert "apt-get update" in actions[order[1] : order[2]], "apt learns about the new repository first"

    assert "    | m edge-all plugdev\n" in result.stdout
    assert f"systemd-sysusers --root={pi_root} edge-all-coral.conf" in actions
    assert "udevadm control --reload-rules" in actions
    assert "systemctl try-restart edge-all.service" in actions


def test_local_deb_skips_the_repository(pi_root, tmp_path):
    deb = tmp_path / "libedgetpu1-std_16.0_arm64.deb"
    deb.write_bytes(b"a package; not opened in a dry run")
    result = run_script("install-coral.sh", "--root", pi_root, "--dry-run", "--deb", deb, env=PI_ENV)
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith(("curl ", "gpg ")) for line in result.actions)
    assert "coral-edgetpu.list" not in result.stdout
    assert any(line.endswith(f"apt-get install -y usbutils {deb}") for line in result.actions)
    assert "known to crash" not in result.stderr


def test_missing_deb_is_refused(pi_root, tmp_path):
    result = run_script(
        "install-coral.sh", "--root", pi_root, "--dry-run", "--deb", tmp_path / "no.deb", env=PI_ENV
    )
    assert result.returncode == 2
    assert "no.deb: no such file" in result.stderr
    assert result.actions == []


def test_real_run_on_a_fake_root(debian_root):
    root = debian_root
    (root / "etc/sysusers.d").mkdir(parents=True)
    (root / "etc/sysusers.d/edge-all.conf").write_text(
        'u edge-all - "edge-all screening service" /var/lib/edge-all /usr/sbin/nologin\n', encoding="utf-8"
    )
    result = run_script("install-coral.sh", "--root", root, "--skip-checks", env=PI_ENV)
    assert result.returncode == 0, result.stderr

    sources = (root / "etc/apt/sources.list.d/coral-edgetpu.list").read_text(encoding="utf-8")
    assert SOURCES_LINE + "\n" in sources
    assert (root / "etc/apt/keyrings").is_dir()
    assert not (root / "etc/apt/trusted.gpg").exists()
    assert "plugdev:x:46:edge-all\n" in (root / "etc/group").read_text(encoding="utf-8")

    before = tree(root)
    again = run_script("install-coral.sh", "--root", root, "--skip-checks", env=PI_ENV)
    assert again.returncode == 0, again.stderr
    assert tree(root) == before
    assert "coral-edgetpu.list is up to date" in again.stdout


def test_help_says_which_runtime_works():
    """Google's libedgetpu is not the recommended one: the help says so and names the community builds."""
    result = run_script("install-coral.sh", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # the help is wrapped at 100 columns
    assert "Coral support is best-effort" in text
    assert "known to crash with TensorFlow Lite runtimes newer than 2.11" in text
    assert "https://github.com/feranick/libedgetpu/releases and pass it with --deb" in text
