"""`edge-all hub enrol`: pin the hub's certificate (or use the trust store) and trade a one-time code
for this Pi's own credential. The certificate's SHA-256 fingerprint is printed (and checked against
--fingerprint when given), so the technician can compare it with what the hospital's administrator
reads out: a pin is only as good as that comparison."""

from __future__ import annotations

import hashlib
import ssl
import sys
from pathlib import Path
from urllib.parse import urlparse

from edge_all.errors import EdgeAllError, UsageError
from edge_all.sync import credentials
from edge_all.sync.credentials import Credential
from edge_all.sync.link import HubRefused, Link, LinkDown


class EnrolmentFailed(EdgeAllError):
    """The hub refused the code, or could not be reached."""


def fingerprint_of(pem: str) -> str:
    der = ssl.PEM_cert_to_DER_cert(pem)
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def enrol(url: str, code: str, path: Path, trust: str, expected: str | None) -> Credential:
    if trust not in ("pin", "system"):
        raise UsageError("--trust is pin or system")
    parsed = urlparse(url)
    certificate = None
    if parsed.scheme == "https" and trust == "pin":
        try:
            certificate = ssl.get_server_certificate((parsed.hostname, parsed.port or 443), timeout=15)
        except OSError as exc:
            raise EnrolmentFailed(f"{url}: cannot reach the hub ({exc})") from None
        seen = fingerprint_of(certificate)
        print(f"the hub's certificate: SHA-256 {seen}", file=sys.stderr)
        if expected and expected.replace(":", "").upper() != seen.replace(":", ""):
            raise EnrolmentFailed(f"{url}: the certificate's fingerprint is {seen}, not the one expected")
    link = Link(url.rstrip("/"), None, trust, certificate)
    try:
        answer = link.post_json("/enrol", {"code": code})
    except (LinkDown, HubRefused) as exc:
        raise EnrolmentFailed(f"{url}: {exc}") from None
    finally:
        link.close()
    if answer.status != 201:
        raise EnrolmentFailed(
            f"{url}: the hub refused the enrolment code ({answer.status} {answer.body[:200]!r})"
        )
    data = answer.json()
    return credentials.write(
        path, Credential(url.rstrip("/"), data["clinic"], data["device"], data["token"], trust, certificate)
    )
