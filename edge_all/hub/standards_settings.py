"""Where the hub sends DICOM and FHIR, configured once in a settings file beside the hub's data
(`DATA/standards.json`, or `edge-all hub --standards FILE`), read at start like the hub's options:

```json
{"pacs": {"url": "https://pacs.hospital.example/dicom-web", "username": "edge-hub",
          "password": "...", "timeout_s": 30},
 "fhir": {"url": "https://fhir.hospital.example/fhir/R4", "bearer_token": "..."},
 "outbox": {"interval_s": 5, "backoff_first_s": 30, "backoff_most_s": 3600}}
```

`pacs` is a DICOMweb root (STOW-RS, QIDO-RS), `fhir` a FHIR R4 base URL; either may be left out
(nothing is sent there). A file that holds a password or token must not be readable by others
(mode 0600): the hub refuses it otherwise, with one line naming the file, as it refuses any bad value.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from edge_all.errors import UsageError
from edge_all.jsonfile import JsonObject, read_json_object
from edge_all.standards.endpoints import Endpoint
from edge_all.standards.errors import ExportError
from edge_all.standards.outbox import Backoff

FILE_NAME = "standards.json"
ENDPOINT_KEYS = {"url", "username", "password", "bearer_token", "timeout_s", "verify_tls"}
OUTBOX_KEYS = {"interval_s", "backoff_first_s", "backoff_most_s"}


@dataclass(frozen=True)
class StandardsSettings:
    pacs: Endpoint | None = None
    fhir: Endpoint | None = None
    interval_s: float = 5.0
    backoff: Backoff = Backoff()
    source: str = ""  # the file they came from ("" when none)

    @property
    def any(self) -> bool:
        return self.pacs is not None or self.fhir is not None


def _section(data: JsonObject, name: str, keys: set[str]) -> JsonObject | None:
    section = data.object(name, None)
    if section is None:
        return None
    unknown = set(section) - keys
    if unknown:
        raise data.fail(name, f"unknown keys: {', '.join(sorted(unknown))}")
    return section


def _endpoint(section: JsonObject | None, path: Path, name: str) -> Endpoint | None:
    if section is None:
        return None
    verify = section.value("verify_tls", True)
    if not isinstance(verify, bool):
        raise section.fail("verify_tls", "expected true/false")
    try:
        return Endpoint(
            url=section.text("url"), username=section.text("username", None),
            password=section.text("password", None), bearer_token=section.text("bearer_token", None),
            timeout_s=section.number("timeout_s", 30.0), verify_tls=verify,
        )  # fmt: skip
    except ExportError as error:
        raise UsageError(f"{path}: {name}: {error}") from None


def load(path: Path) -> StandardsSettings:
    """The settings in `path`; UsageError (one line naming the file) when they cannot be used."""
    data = read_json_object(path, "standards settings", UsageError)
    unknown = set(data) - {"pacs", "fhir", "outbox"}
    if unknown:
        raise UsageError(f"{path}: unknown sections: {', '.join(sorted(unknown))} (pacs, fhir, outbox)")
    pacs = _endpoint(_section(data, "pacs", ENDPOINT_KEYS), path, "pacs")
    fhir = _endpoint(_section(data, "fhir", ENDPOINT_KEYS), path, "fhir")
    secret = any(e is not None and (e.password or e.bearer_token) for e in (pacs, fhir))
    if secret and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"{path}: holds a password or token but others may read it: chmod 600 {path}")
    outbox = _section(data, "outbox", OUTBOX_KEYS) or JsonObject({}, str(path), UsageError)
    interval = outbox.number("interval_s", 5.0)
    backoff = Backoff(
        first_s=outbox.number("backoff_first_s", 30.0), most_s=outbox.number("backoff_most_s", 3600.0)
    )
    if not (interval > 0 and backoff.first_s > 0 and backoff.most_s >= backoff.first_s):
        raise UsageError(f"{path}: outbox: times must be positive, backoff_most_s >= backoff_first_s")
    return StandardsSettings(pacs, fhir, interval, backoff, str(path))
