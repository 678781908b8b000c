"""The real hub (`edge-all hub` in a subprocess on a loopback port), and what a test sets up in it."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from edge_all.accounts.audit import SYSTEM
from edge_all.accounts.database import open_engine
from edge_all.accounts.devices import Devices
from edge_all.accounts.people import Accounts
from edge_all.hub import migrate

from .required import free_port

PASSWORD = "a long hub password"


@dataclass
class HubProcess:
    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen | None = None
    cafile: str | None = None  # https, trusting this certificate

    @property
    def url(self) -> str:
        return f"{'https' if self.cafile else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> HubProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        out = open(self.log, "ab")  # noqa: SIM115 - the server writes to it for its whole life
        self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the hub exited with {self.process.returncode}:\n{self.output()}")
            try:
                context = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2, context=context) as answer:
                    if json.load(answer)["ok"]:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the hub did not answer within {timeout} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else 0

    def restart(self) -> None:
        self.stop(signal.SIGKILL)
        self.start()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


def hub_command(database: str, pictures: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edge_all", "hub", "--database", database, "--pictures", pictures,
            "--port", str(port), *extra]  # fmt: skip


def start_hub(tmp: Path, database: str, pictures: str | None = None, *extra: str) -> HubProcess:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    hub = HubProcess(
        hub_command(database, pictures or str(tmp / "pictures"), port, *extra), port, tmp / "hub.log"
    )
    return hub.start()


def prepare(
    database: str, clinics: dict[str, str], people: list[tuple[str, str, tuple[str, ...]]] = ()
) -> None:
    """Migrate, add clinics and accounts (username, role, clinics) with PASSWORD."""
    engine = open_engine(database)
    migrate.upgrade(engine)
    accounts = Accounts(engine)
    for clinic_id, name in clinics.items():
        accounts.add_clinic(clinic_id, name, SYSTEM)
    for username, role, seen in people:
        accounts.add_person(username, username.title(), role, PASSWORD, seen, SYSTEM)
    engine.dispose()


def enrol_code(database: str, clinic: str) -> str:
    engine = open_engine(database)
    try:
        return Devices(engine).issue_code(clinic, f"pi-{clinic}", SYSTEM)
    finally:
        engine.dispose()
