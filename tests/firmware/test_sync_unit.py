"""The hospital link's systemd units (edge-all-sync.service and .timer), as install-pi.sh installs them:
they verify, the timer is enabled, the service waits for an enrolment and keeps its hardening, and its
command line, filled in the way systemd does it, is one `edge-all sync` accepts."""

from __future__ import annotations

import re
import subprocess

from .helpers import SCRIPTS, VENV
from .test_systemd_unit import (  # noqa: F401  (installed_root is a fixture)
    analyze,
    installed_root,
    needs_systemd,
    read_unit,
)


@needs_systemd
def test_systemd_analyze_verify(installed_root):  # noqa: F811
    for unit in ("edge-all-sync.service", "edge-all-sync.timer"):
        result = analyze("verify", f"--root={installed_root}", unit)
        assert result.returncode == 0 and result.stderr == "" and result.stdout == "", (unit, result.stderr)


@needs_systemd
def test_hardening_exposure_stays_low(installed_root):  # noqa: F811
    result = analyze("security", "--offline=true", f"--root={installed_root}", "edge-all-sync.service")
    match = re.search(r"Overall exposure level for edge-all-sync\.service: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.5, result.stdout


def test_the_timer_is_enabled_and_the_units_installed(installed_root):  # noqa: F811
    wants = installed_root / "etc/systemd/system/timers.target.wants/edge-all-sync.timer"
    assert wants.is_symlink()
    for unit in ("edge-all-sync.service", "edge-all-sync.timer"):
        assert (installed_root / "etc/systemd/system" / unit).is_file()


def test_unit_settings_and_command_line():
    unit = read_unit(SCRIPTS / "edge-all-sync.service")
    service = unit["Service"]
    assert unit["Unit"]["ConditionPathExists"] == "/var/lib/edge-all/hub-credential.json"
    assert service["User"] == "edge-all" and service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/edge-all" and service["Restart"] == "always"
    command = service["ExecStart"].split()
    assert command[:3] == ["/opt/edge-all/venv/bin/edge-all", "sync", "--watch"]
    values = {"${EDGE_ALL_DB}": "/var/lib/edge-all/results.db",
              "${EDGE_ALL_HUB_CREDENTIAL}": "/var/lib/edge-all/hub-credential.json"}  # fmt: skip
    args = [values.get(arg, arg) for arg in command[1:]]
    result = subprocess.run([str(VENV / "bin" / "edge-all"), *args, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    timer = read_unit(SCRIPTS / "edge-all-sync.timer")
    assert timer["Timer"]["Unit"] == "edge-all-sync.service"
