"""The clinic station's systemd unit (edge-all-station.service), as install-pi.sh installs it: it
verifies, keeps its hardening, agrees with the settings file, excludes the capture service, and its
command line, filled in from the shipped settings the way systemd does it, really serves pages (and
refuses a network address without a password, with the exit code the unit does not restart on)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request

from .helpers import PI_ENV, SCRIPTS, VENV, run_script
from .test_systemd_unit import (  # noqa: F401  (installed_root is a fixture)
    analyze,
    expand_exec_start,
    installed_root,
    needs_systemd,
    read_env_file,
    read_unit,
)

UNIT = "edge-all-station.service"


@needs_systemd
def test_systemd_analyze_verify(installed_root):  # noqa: F811
    result = analyze("verify", f"--root={installed_root}", UNIT)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr


@needs_systemd
def test_hardening_exposure_stays_low(installed_root):  # noqa: F811
    result = analyze("security", "--offline=true", f"--root={installed_root}", UNIT)
    match = re.search(r"Overall exposure level for edge-all-station\.service: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    # The capture service's hardening (1.7), plus IP sockets for the web pages: 2.0 when written.
    assert float(match.group(1)) <= 2.8, result.stdout


def test_unit_settings():
    unit = read_unit(SCRIPTS / UNIT)
    service = unit["Service"]
    assert unit["Unit"]["Conflicts"] == "edge-all.service"  # one camera
    assert service["User"] == "edge-all" and service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/edge-all"
    assert service["EnvironmentFile"] == "/etc/edge-all/edge-all.env"
    assert service["RestartPreventExitStatus"] == "2"
    assert set(service["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"}
    assert service["ExecStart"].split()[:2] == ["/opt/edge-all/venv/bin/edge-all", "serve"]
    assert service["CapabilityBoundingSet"] == ""  # port 8080: no privilege needed


def unit_defaults(unit) -> dict[str, str]:
    """The unit's own Environment= defaults (edge-all.env overrides them, as systemd does)."""
    text = (SCRIPTS / UNIT).read_text(encoding="utf-8")
    pairs = re.findall(r"^Environment=(.*)$", text, flags=re.MULTILINE)
    return dict(item.split("=", 1) for line in pairs for item in line.split())


def test_unit_and_env_file_agree():
    """Every ${VAR} the unit uses is set in the shipped settings file, and has a default in the unit
    for a settings file written by an older install-pi.sh (which never overwrites it)."""
    text = (SCRIPTS / UNIT).read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{?(EDGE_ALL_[A-Z_]+)", text))
    env = read_env_file(SCRIPTS / "edge-all.env")
    assert used and used <= set(env), used - set(env)
    station = {name for name in used if name.startswith("EDGE_ALL_STATION_")}
    assert station and station <= set(unit_defaults(None)), station


def test_execstart_with_the_env_file_serves_the_station(tmp_path, int8_bundle):
    env = {**read_env_file(SCRIPTS / "edge-all.env")}
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.update(
        EDGE_ALL_MODEL=str(int8_bundle), EDGE_ALL_DB=str(tmp_path / "results.db"),
        EDGE_ALL_FRAMES=str(tmp_path / "frames"), EDGE_ALL_STATION_PORT=str(port),
        EDGE_ALL_STATION_SITE=str(tmp_path / "site"),
    )  # fmt: skip
    unit = read_unit(SCRIPTS / UNIT)
    argv = expand_exec_start(unit["Service"]["ExecStart"], env)
    argv[0] = str(VENV / "bin" / "edge-all")
    assert argv[argv.index("--host") + 1] == "127.0.0.1"  # the shipped setting: this machine only
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the station did not answer"
                time.sleep(0.2)
        assert "Station" in page and str(int8_bundle) in page
        assert 'id="not-commissioned"' in page  # installed without a site profile
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) in (0, -signal.SIGTERM)

    env["EDGE_ALL_STATION_HOST"] = "0.0.0.0"  # the clinic network, but no password set yet
    argv = expand_exec_start(unit["Service"]["ExecStart"], env)
    argv[0] = str(VENV / "bin" / "edge-all")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "set a password first" in proc.stderr  # RestartPreventExitStatus


def test_install_pi_enables_one_of_the_two_services(debian_root):
    root = debian_root
    wants = root / "etc/systemd/system/multi-user.target.wants"

    def install(*args):
        result = run_script(
            "install-pi.sh", "--root", root, "--venv", VENV, "--skip-checks", *args, env=PI_ENV
        )
        assert result.returncode == 0, result.stderr
        return result

    install()
    station_unit = (root / "etc/systemd/system" / UNIT).read_text(encoding="utf-8")
    assert f"ExecStart={VENV}/bin/edge-all serve" in station_unit
    assert (root / "opt/edge-all/scripts" / UNIT).is_file()
    assert sorted(os.listdir(wants)) == ["edge-all.service"]

    result = install("--station")
    assert sorted(os.listdir(wants)) == [UNIT]
    assert "sudo systemctl start edge-all-station.service" in result.stdout
    # Left "not commissioned": no site profile installed, and it says how to commission.
    assert "the station is not commissioned yet" in result.stdout
    assert not (root / "var/lib/edge-all/site").exists()
    install()  # and back to unattended capture
    assert sorted(os.listdir(wants)) == ["edge-all.service"]
