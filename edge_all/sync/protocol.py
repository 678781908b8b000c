"""The sync protocol's records, as both the clinic and the hub see them.

Every record is {"id": a uuid made at the clinic, "kind", "sha256": of the body's canonical JSON,
"body"}. The id makes a resend recognisable; the sha256 makes a resend with a different body (a bug,
or someone replaying an old id with new data) refusable. Pictures travel separately, by their own
sha256 (HEAD, then PUT if missing), before the record that names them, so a record never points at
a picture the hub lacks.

HTTP, under /api/v1, with `Authorization: Bearer <device token>`:
- GET  whoami                    -> {"device", "clinic"}
- POST enrol {"code"}            -> {"device", "clinic", "token"}   (no token yet)
- HEAD blobs/<sha256>            -> 200 held, 404 not
- PUT  blobs/<sha256> (bytes)    -> 201 stored, 200 already held; 422 when the bytes do not hash to the name
- POST records {"records": [..]} -> {"results": [{"id", "outcome", "status", "why"}]}, outcome being
  stored, duplicate (held already: confirmed) or refused
- GET  signoffs?after=<n>        -> {"signoffs": [...], "next": n}

Versions: a field body of protocol 2 says so (`"protocol": 2`) and adds the field number, the scale,
the session's label roles and each cell's status; one without the key is protocol 1, which a hub of
protocol 2 still takes. `whoami` names the hub's protocol; a clinic refuses to send to a hub older
than its own (the hub's schema would refuse every record), saying so, and keeps its outbox.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from functools import cache
from importlib import resources
from typing import Any

API = "/api/v1"
KINDS = ("field", "slide_call", "review")
PROTOCOL = 2  # what this edge-all sends and takes (docs/hub.md, "The sync protocol")
MAX_RECORDS = 100  # records in one POST
MAX_RECORDS_BYTES = 4 * 1024 * 1024
MAX_BLOB_BYTES = 32 * 1024 * 1024  # a full-resolution PNG field is a few MB
SHA256 = re.compile(r"^[0-9a-f]{64}$")
NAMESPACE = uuid.UUID("6f1d7c2e-8a9b-4c53-9e0f-1a2b3c4d5e6f")  # record ids made from clinic facts


def canonical(body: dict[str, Any]) -> bytes:
    """One byte string per body: sorted keys, no spaces, UTF-8; what `sha256` hashes."""
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def body_sha256(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def record_id(*facts: object) -> str:
    """A uuid fixed by the facts that identify a record at the clinic, so enqueueing twice (after a
    crash, or a rescan) makes the same id and the hub stores it once."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(fact) for fact in facts)))


def record(kind: str, rid: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid, "kind": kind, "sha256": body_sha256(body), "body": body}


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a POST records body (docs/schemas/sync.schema.json is the same file)."""
    return json.loads(resources.files(__package__).joinpath("sync.schema.json").read_text(encoding="utf-8"))
