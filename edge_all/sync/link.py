"""One persistent HTTP(S) connection to the hub, from the standard library (nothing to build on a Pi).

TLS: with a pinned certificate the context trusts that one certificate only (partial-chain, so a
CA-signed leaf can be pinned too), hostname checked; otherwise the system's trust store. Plain http is
allowed to loopback only (tests, or a TLS proxy on the same machine). Every failure to talk to the
hub, whatever its cause, is a LinkDown: the caller backs off and tries again, nothing is lost.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from edge_all.errors import UsageError
from edge_all.sync.protocol import API

TIMEOUT = 15.0


class LinkDown(Exception):
    """The hub could not be reached, or the exchange was cut off."""


class HubRefused(Exception):
    """The hub answered, with a status that retrying will not change (401: revoked)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(f"{status} {why}")
        self.status, self.why = status, why


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def tls_context(trust: str, certificate: str | None) -> ssl.SSLContext:
    if trust == "pin":
        if not certificate:
            raise UsageError("a pinned hub needs its certificate (enrol again)")
        context = ssl.create_default_context(cadata=certificate)
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return context
    return ssl.create_default_context()


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Link:
    def __init__(
        self, url: str, token: str | None, trust: str = "system", certificate: str | None = None
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UsageError(f"{url}: the hub's address is https://HOST[:PORT]")
        if parsed.scheme == "http" and not _loopback(parsed.hostname):
            raise UsageError(f"{url}: beyond this machine the hub is reached over https only")
        self.host, self.scheme = parsed.hostname, parsed.scheme
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.token = token
        self.context = tls_context(trust, certificate) if parsed.scheme == "https" else None
        self._connection: http.client.HTTPConnection | None = None
        self.answers = 0  # responses received: the hub answering at all resets the caller's backoff

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self.context is not None:
                self._connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=TIMEOUT, context=self.context
                )
            else:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> Answer:
        headers = {"Content-Length": str(len(body or b""))}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            connection = self._connect()
            connection.request(method, API + path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if response.getheader("connection", "").lower() == "close":
                self.close()
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise HubRefused(
                495, f"the hub's certificate is not the one trusted ({exc.verify_message})"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise LinkDown(f"{self.host}:{self.port}: {exc or type(exc).__name__}") from None
        self.answers += 1
        if response.status >= 500 or response.status in (408, 429):
            raise LinkDown(f"the hub answered {response.status}")
        if response.status == 401:  # revoked, or never enrolled: retrying cannot help
            raise HubRefused(response.status, _why(data))
        return Answer(response.status, data)

    def post_json(self, path: str, payload: Any) -> Answer:
        return self.request("POST", path, json.dumps(payload, separators=(",", ":")).encode())


def _why(data: bytes) -> str:
    try:
        return str(json.loads(data).get("error", ""))
    except (ValueError, AttributeError):
        return data[:200].decode(errors="replace")
