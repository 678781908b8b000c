"""People's passwords: argon2id hashes (argon2-cffi's RFC 9106 low-memory profile), never the password.

A check of an unknown username still runs one argon2 verification against a fixed hash, so the
time a login takes does not say which usernames exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge_all.errors import UsageError

MIN_LENGTH = 10
_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4: about 50 ms on a 2-core Xeon
_DUMMY = _HASHER.hash("edge-all: no such account")


class PasswordError(UsageError):
    """A new password that cannot be used."""


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; None (no such account) takes as long and is False."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's (it is replaced at login)."""
    return _HASHER.check_needs_rehash(stored)
