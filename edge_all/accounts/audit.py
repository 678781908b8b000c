"""The append-only audit trail: who did what to which slide, when, and from where.

`record` takes the caller's connection, so an action and its audit row commit together (or not
at all): a sign-off is never stored without the row that says who made it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from edge_all.accounts import clock
from edge_all.accounts.schema import audit


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (by username, with their role), a device (by id), or the system itself."""

    name: str  # 'person:ada', 'device:7', 'system'
    role: str  # technician, specialist, administrator, device, system

    @staticmethod
    def person(username: str, role: str) -> Actor:
        return Actor(f"person:{username}", role)

    @staticmethod
    def device(device_id: int) -> Actor:
        return Actor(f"device:{device_id}", "device")


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    role: str
    action: str
    subject: str
    clinic_id: str | None
    client: str
    detail: dict[str, Any]


def record(
    connection: Connection,
    actor: Actor,
    action: str,
    subject: str = "",
    *,
    clinic_id: str | None = None,
    client: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    connection.execute(
        audit.insert().values(
            at=clock.now_iso(), actor=actor.name, role=actor.role, action=action, subject=subject[:300],
            clinic_id=clinic_id, client=client[:100], detail=json.dumps(detail or {}, sort_keys=True),
        )
    )  # fmt: skip


def entries(
    engine: Engine, *, limit: int = 200, action: str | None = None, subject: str | None = None
) -> list[AuditEntry]:
    """The newest entries first, optionally of one action or one subject."""
    query = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if action is not None:
        query = query.where(audit.c.action == action)
    if subject is not None:
        query = query.where(audit.c.subject == subject)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [AuditEntry(**{**row, "detail": json.loads(row["detail"])}) for row in rows]
