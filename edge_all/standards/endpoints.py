"""Where the hub sends, configured once: the PACS's DICOMweb root and the FHIR server's base URL, each
with its credentials and a time-out that bounds every attempt (a silent server never holds a worker
longer than that)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from edge_all.standards.errors import ExportError


def _check_url(url: str, what: str) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ExportError(f"{what} URL must be http(s)://host[:port]/path: {url!r}")


@dataclass(frozen=True)
class Endpoint:
    """A DICOMweb root (e.g. http://pacs:8042/dicom-web) or a FHIR base (e.g. http://fhir/fhir/R4)."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    verify_tls: bool = True

    def __post_init__(self) -> None:
        _check_url(self.url, "endpoint")
        if (self.username is None) != (self.password is None):
            raise ExportError(f"endpoint {self.url}: give both a user name and a password, or neither")
        if self.bearer_token is not None and self.username is not None:
            raise ExportError(f"endpoint {self.url}: give a password or a bearer token, not both")
        if not self.timeout_s > 0:
            raise ExportError(f"endpoint {self.url}: the time-out must be positive: {self.timeout_s}")

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {}

    def auth(self) -> tuple[str, str] | None:
        return (
            (self.username, self.password)
            if self.username is not None and self.password is not None
            else None
        )
