"""The station's password: one salted scrypt hash in a small private file, never the password itself.

Why hashlib.scrypt: it is in the standard library (nothing to build on a Pi) and memory-hard;
the parameters are OWASP's (N=2^15, r=8, p=3: 32 MiB and about a third of a second per check
on a 2-core Xeon, more on a Pi, which also slows guessing). They are stored with the hash, so
they can be raised later without locking anyone out.

Why a file of its own and not the results database: the results database is the patient record
that gets copied to a USB stick and sent to the project team, and its tables are append-only; a
credential should neither travel with it nor be kept for ever. The file is written atomically
with mode 0600, readable only by the service user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from edge_all.errors import FileError, UsageError
from edge_all.safe_write import write_file

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
MIN_LENGTH = 8


class PasswordError(UsageError):
    """A password that cannot be used (too short, the two entries differ)."""


@dataclass(frozen=True)
class PasswordHash:
    salt: str  # base64
    hash: str  # base64 of the 32-byte scrypt key
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    algorithm: str = "scrypt"
    set_at: str = ""


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * n * r * (p + 2)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=32)


def hash_password(password: str) -> PasswordHash:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the station password needs at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return PasswordHash(
        salt=base64.b64encode(salt).decode(),
        hash=base64.b64encode(key).decode(),
        set_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def verify_password(password: str, stored: PasswordHash) -> bool:
    key = _derive(password, base64.b64decode(stored.salt), stored.n, stored.r, stored.p)
    return hmac.compare_digest(key, base64.b64decode(stored.hash))


def write_password_file(path: Path, stored: PasswordHash) -> None:
    """Replace the password file atomically; it is created private (0600) before anything is written."""
    write_file(path, json.dumps(asdict(stored), indent=2), "the station password", private=True)


def retire_shared_password(path: Path) -> Path:
    """Stop the shared password from working (accounts replace it): the file is renamed, not deleted,
    so what was set and when stays on record beside the audit row that says who retired it."""
    if not path.is_file():
        raise PasswordError("there is no shared station password to retire")
    retired = path.with_name(f"{path.name}.retired-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")
    try:
        os.replace(path, retired)
    except OSError as exc:
        raise FileError(f"{path}: cannot retire the station password ({exc.strerror or exc})") from None
    return retired


def read_password_file(path: Path) -> PasswordHash | None:
    """The stored hash, or None when no password has been set."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FileError(f"{path}: cannot read the station password ({exc.strerror or exc})") from None
    except json.JSONDecodeError:
        raise FileError(f"{path}: damaged station password file (set it again: --set-password)") from None
    if not isinstance(data, dict) or data.get("algorithm") != "scrypt":
        raise FileError(f"{path}: not a station password file (set it again: --set-password)")
    try:
        return PasswordHash(**data)
    except TypeError:
        raise FileError(f"{path}: damaged station password file (set it again: --set-password)") from None
