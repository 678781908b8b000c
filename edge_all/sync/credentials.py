"""The Pi's device credential: the hub's address, this device's token, and how to trust the hub.

One small JSON file, written atomically and created 0600 before anything is in it (readable only by
the service user); a credential file that others can read is refused, as ssh refuses a key.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_all.errors import EdgeAllError, FileError
from edge_all.safe_write import write_file

FILE = "hub-credential.json"


class NotEnrolled(EdgeAllError):
    """No credential: this Pi has not been enrolled with a hub."""


@dataclass(frozen=True)
class Credential:
    url: str  # https://hub.example:8443
    clinic: str
    device: int
    token: str
    trust: str  # 'pin': the certificate below is the only one trusted; 'system': the trust store
    certificate: str | None = None  # PEM, pinned at enrolment
    path: Path | None = None


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "edge-all" / FILE


def write(path: Path, credential: Credential) -> Credential:
    """The credential, whole or not at all, readable by its owner only (a full disk is one line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {key: value for key, value in asdict(credential).items() if key != "path"}
    write_file(path, json.dumps(data, indent=2), "the hub credential", private=True)
    return Credential(**data, path=path)


def read(path: Path) -> Credential:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotEnrolled(f"{path}: not enrolled with a hub (edge-all hub enrol URL --code CODE)") from None
    except OSError as exc:
        raise FileError(f"{path}: cannot read the hub credential ({exc.strerror or exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise FileError(f"{path}: others may read this credential: chmod 600 {path}")
    try:
        return Credential(**json.loads(text), path=path)
    except (json.JSONDecodeError, TypeError):
        raise FileError(f"{path}: damaged hub credential (enrol again)") from None
