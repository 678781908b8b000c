"""What the station was started with: the capture it runs, where results live, where it listens.

Standard library only, so `edge-all serve --help` and the refusal of an unsafe bind stay instant.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

from edge_all.capture.options import CaptureOptions
from edge_all.runtime.choice import ModelChoice

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
PASSWORD_FILE = "station-password.json"  # beside the results database, unless --password-file
ACCOUNTS_FILE = "station-accounts.db"  # beside the results database, unless --accounts-db
SITE_DIR = "site"  # the station's commissioned site, beside the results database, unless --site
LOOPBACK_NAMES = ("localhost",)
WILDCARDS = ("0.0.0.0", "::", "[::]", "")


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class StationConfig:
    """The station's settings; `capture` is the template every new slide's capture starts from."""

    model: ModelChoice  # what every capture runs, and what the Station page describes
    camera: str
    db: Path
    password_file: Path
    capture: CaptureOptions = field(default_factory=CaptureOptions)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls_cert: Path | None = None  # with tls_key: serve https (cookies then also Secure)
    tls_key: Path | None = None
    station_name: str = field(default_factory=socket.gethostname)
    allowed_hosts: tuple[str, ...] = ()  # beyond loopback: the names and addresses people type
    accounts_db: Path | None = None  # personal accounts and the audit; None: beside the results database
    site_dir: Path | None = None  # the commissioned site (edge_all.station.site); None: beside the database

    @property
    def site_path(self) -> Path:
        return self.site_dir or self.db.parent / SITE_DIR

    @property
    def accounts_path(self) -> Path:
        return self.accounts_db or self.db.parent / ACCOUNTS_FILE

    @property
    def served_hosts(self) -> frozenset[str]:
        """The Host names answered beyond loopback: --allowed-host, the bound address when it is one
        address, this machine's name (and name.local, as mDNS announces it), and loopback names for
        the Pi's own browser. Anything else is refused, so a rebinding DNS name cannot reach it."""
        names = {name.lower() for name in self.allowed_hosts}
        if self.host not in WILDCARDS:
            names.add(self.host.strip("[]").lower())
        names |= {self.station_name.lower(), f"{self.station_name.lower()}.local", *LOOPBACK_NAMES}
        names |= {"127.0.0.1", "::1"}
        return frozenset(names)

    @property
    def plain_http_beyond_loopback(self) -> bool:
        """Serving the clinic network without TLS: passwords and pages cross it unencrypted."""
        return not self.loopback_only and self.tls_cert is None

    @property
    def frames_dir(self) -> Path | None:
        return self.capture.save_frames

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)
