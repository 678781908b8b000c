"""Personal accounts and the audit trail on the station: edge_all.accounts, the hub's own implementation.

The station keeps them in a small SQLite file of their own beside the results database
(`station-accounts.db`): the results database is the patient record that is copied and shared, and
credentials should not travel with it (the same reason as the shared password's file). The tables
are the `accounts` Alembic branch, so the station and the hub have one schema, one argon2 hashing,
one lock-out rule, one session table and one append-only audit.

How a station moves from its shared password to accounts: the first administrator is made from the
command line (`edge-all serve --add-admin NAME`); from then on people sign in with their own
username, and the shared password keeps working beside them until that administrator retires it
on the Accounts page. Who may do what: a technician captures, a specialist reviews, an administrator
does both and manages accounts; someone signed in with the shared password (or on a station with no
password at all, on this machine only) may capture and review, as before, naming themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from edge_all.accounts import audit, migrate
from edge_all.accounts.audit import Actor, AuditEntry
from edge_all.accounts.database import open_engine, sqlite_url
from edge_all.accounts.people import Accounts, Person
from edge_all.accounts.schema import people
from edge_all.accounts.sessions import Sessions

SHARED = Actor("shared:station password", "station")  # signed in with the station's shared password
LOCAL = Actor("local:no password", "station")  # a station on loopback with no password at all
MAY = {
    "capture": {"technician", "administrator", "station"},
    "review": {"specialist", "administrator", "station"},
    "accounts": {"administrator"},
    "commission": {"technician", "administrator"},  # a technician's or administrator's act (issue 23)
}


@dataclass(frozen=True)
class Who:
    """Who is acting on a page: a person with an account, or the shared password's user."""

    actor: Actor
    person: Person | None = None

    @property
    def role(self) -> str:
        return self.actor.role

    def may(self, what: str) -> bool:
        return self.role in MAY[what]

    @property
    def reviewer(self) -> str | None:
        """How a review names a person ('Dr Ada Okafor (ada)'); None: they type their name."""
        if self.person is None:
            return None
        person = self.person
        return (
            person.display_name
            if person.display_name == person.username
            else (f"{person.display_name} ({person.username})")
        )


def clinic_id_of(station_name: str) -> str:
    """The station's own clinic (technicians belong to exactly one): a slug of its name."""
    slug = re.sub(r"[^a-z0-9-]+", "-", station_name.lower()).strip("-")[:63]
    return slug or "station"


class StationPeople:
    """The accounts database of one station: accounts, sessions and the audit trail."""

    def __init__(self, path: Path, station_name: str) -> None:
        self.path = path
        self.engine: Engine = open_engine(sqlite_url(path))
        migrate.upgrade(self.engine, target="accounts@head")
        self.accounts = Accounts(self.engine)
        self.sessions = Sessions(self.engine, self.accounts)
        self.clinic_id = clinic_id_of(station_name)
        if self.accounts.clinic(self.clinic_id) is None:
            self.accounts.add_clinic(self.clinic_id, station_name, audit.SYSTEM)

    def has_accounts(self) -> bool:
        """Whether anyone may sign in with an account (then a login is needed, even on loopback)."""
        with self.engine.connect() as connection:
            query = select(func.count()).select_from(people).where(people.c.active.is_(True))
            return int(connection.execute(query).scalar_one()) > 0

    def add_person(self, username: str, display_name: str, role: str, password: str, by: Actor) -> Person:
        clinics = () if role == "administrator" else (self.clinic_id,)
        return self.accounts.add_person(username, display_name or username, role, password, clinics, by)

    def record(self, who: Actor, action: str, subject: str = "", client: str = "", **detail: Any) -> None:
        """Append one audit row (its own transaction: the station's records are in another database)."""
        with self.engine.begin() as connection:
            audit.record(
                connection, who, action, subject, clinic_id=self.clinic_id, client=client, detail=detail
            )

    def entries(self, limit: int = 100) -> list[AuditEntry]:
        return audit.entries(self.engine, limit=limit)

    def close(self) -> None:
        self.engine.dispose()
