"""Clinics and personal accounts: who may sign in, with which role, seeing which clinics.

- A technician belongs to exactly one clinic and sees only it; a specialist sees the clinics assigned
  to them; an administrator sees every clinic.
- Lock-out is per account and stored in the database (so it holds across restarts and hub workers):
  after MAX_FAILURES wrong passwords in a row the account refuses every login, the right password
  too, for LOCK_SECONDS. Every login, failure and lock-out is audited.
- Accounts are never deleted, only disabled, so the audit trail always names someone who existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from edge_all.accounts import clock, passwords
from edge_all.accounts.audit import Actor, record
from edge_all.accounts.schema import ROLES, clinics, people, person_clinics
from edge_all.errors import UsageError

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AccountError(UsageError):
    """An account or clinic that cannot be made or changed as asked."""


class LoginRefused(Exception):
    """A failed login; `locked` says whether the account is locked out (the page says so)."""

    def __init__(self, locked: bool) -> None:
        super().__init__("locked" if locked else "wrong username or password")
        self.locked = locked


@dataclass(frozen=True)
class Clinic:
    id: str
    name: str


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    display_name: str
    role: str
    clinics: tuple[str, ...]  # a technician's one clinic, a specialist's assigned clinics
    active: bool = True

    @property
    def actor(self) -> Actor:
        return Actor.person(self.username, self.role)

    def may_see(self, clinic_id: str) -> bool:
        return self.role == "administrator" or clinic_id in self.clinics


class Accounts:
    """People and clinics in one database (the station's or the hub's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- clinics --------------------------------------------------------------------------------
    def add_clinic(self, clinic_id: str, name: str, by: Actor) -> Clinic:
        if not SLUG.match(clinic_id):
            raise AccountError(f"{clinic_id!r}: a clinic id is lower-case letters, digits and '-' (kisumu-1)")
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(clinics).values(id=clinic_id, name=name, created_at=clock.now_iso())
                )
                record(connection, by, "add clinic", f"clinic {clinic_id}", clinic_id=clinic_id)
        except IntegrityError:
            raise AccountError(f"there is already a clinic {clinic_id!r}") from None
        return Clinic(clinic_id, name)

    def clinics(self) -> list[Clinic]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(clinics.c.id, clinics.c.name).order_by(clinics.c.id)).all()
        return [Clinic(*row) for row in rows]

    def clinic(self, clinic_id: str) -> Clinic | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(clinics.c.id, clinics.c.name).where(clinics.c.id == clinic_id)
            ).first()
        return Clinic(*row) if row else None

    # ---- people ---------------------------------------------------------------------------------
    def add_person(
        self,
        username: str,
        display_name: str,
        role: str,
        password: str,
        clinic_ids: tuple[str, ...],
        by: Actor,
    ) -> Person:
        if not USERNAME.match(username):
            raise AccountError(f"{username!r}: a username is letters, digits, '.', '_' and '-'")
        if role not in ROLES:
            raise AccountError(f"{role!r}: a role is one of {', '.join(ROLES)}")
        if role == "technician" and len(clinic_ids) != 1:
            raise AccountError("a technician belongs to exactly one clinic (--clinic)")
        hashed = passwords.hash_password(password)
        at = clock.now_iso()
        try:
            with self.engine.begin() as connection:
                self._check_clinics(connection, clinic_ids)
                person_id = connection.execute(
                    insert(people).values(
                        username=username, display_name=display_name, role=role, password_hash=hashed,
                        active=True, failed_logins=0, created_at=at, password_set_at=at,
                    )
                ).inserted_primary_key[0]  # fmt: skip
                for clinic_id in clinic_ids:
                    connection.execute(
                        insert(person_clinics).values(person_id=person_id, clinic_id=clinic_id)
                    )
                record(
                    connection, by, "add account", f"person {username}",
                    detail={"role": role, "clinics": list(clinic_ids)},
                )  # fmt: skip
        except IntegrityError:
            raise AccountError(f"there is already an account {username!r}") from None
        return Person(int(person_id), username, display_name, role, tuple(sorted(clinic_ids)))

    def count_administrators(self) -> int:
        with self.engine.connect() as connection:
            query = select(func.count()).where(people.c.role == "administrator", people.c.active.is_(True))
            return int(connection.execute(query).scalar_one())

    def assign(self, username: str, clinic_ids: tuple[str, ...], by: Actor) -> Person:
        """Replace the clinics a person sees (a technician: exactly one)."""
        person = self._require(username)
        if person.role == "technician" and len(clinic_ids) != 1:
            raise AccountError("a technician belongs to exactly one clinic")
        with self.engine.begin() as connection:
            self._check_clinics(connection, clinic_ids)
            connection.execute(delete(person_clinics).where(person_clinics.c.person_id == person.id))
            for clinic_id in clinic_ids:
                connection.execute(insert(person_clinics).values(person_id=person.id, clinic_id=clinic_id))
            record(
                connection, by, "assign clinics", f"person {username}", detail={"clinics": list(clinic_ids)}
            )
        return self._require(username)

    def set_password(self, username: str, password: str, by: Actor) -> None:
        person = self._require(username)
        hashed = passwords.hash_password(password)
        with self.engine.begin() as connection:
            connection.execute(
                update(people).where(people.c.id == person.id).values(
                    password_hash=hashed, password_set_at=clock.now_iso(), failed_logins=0, locked_until=None
                )
            )  # fmt: skip
            record(connection, by, "set password", f"person {username}")

    def set_active(self, username: str, active: bool, by: Actor) -> None:
        person = self._require(username)
        with self.engine.begin() as connection:
            connection.execute(update(people).where(people.c.id == person.id).values(active=active))
            record(connection, by, "enable account" if active else "disable account", f"person {username}")

    def person(self, username: str) -> Person | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(people).where(people.c.username == username)).mappings().first()
            return self._person(connection, row) if row else None

    def person_by_id(self, person_id: int) -> Person | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(people).where(people.c.id == person_id)).mappings().first()
            return self._person(connection, row) if row else None

    def people(self) -> list[Person]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(people).order_by(people.c.username)).mappings().all()
            return [self._person(connection, row) for row in rows]

    def authenticate(self, username: str, password: str, client: str) -> Person:
        """The person, once the password matches and the account is active and not locked out.

        Raises LoginRefused otherwise; each outcome is audited, with the client's address.
        """
        with self.engine.connect() as connection:
            row = connection.execute(select(people).where(people.c.username == username)).mappings().first()
        now = clock.now_iso()
        locked = row is not None and row["locked_until"] is not None and row["locked_until"] > now
        matches = passwords.verify(row["password_hash"] if row else None, password)
        subject = f"person {username[:64]}"
        refused: LoginRefused | None = None
        with self.engine.begin() as connection:
            if row is None or not row["active"] or locked or not matches:
                if row is not None and not locked:
                    failures = row["failed_logins"] + 1
                    lock = clock.later_iso(LOCK_SECONDS) if failures >= MAX_FAILURES else None
                    connection.execute(
                        update(people).where(people.c.id == row["id"])
                        .values(failed_logins=0 if lock else failures, locked_until=lock)
                    )  # fmt: skip
                    locked = lock is not None
                    if locked:
                        record(connection, Actor(subject.replace(" ", ":"), row["role"]), "lock-out", subject,
                               client=client, detail={"failures": failures})  # fmt: skip
                actor = Actor(f"person:{username[:64]}", row["role"] if row else "unknown")
                record(connection, actor, "login refused", subject, client=client, detail={"locked": locked})
                refused = LoginRefused(locked)
        if refused is not None:
            raise refused  # after the commit: the count and the audit row must stay
        with self.engine.begin() as connection:
            values = {"failed_logins": 0, "locked_until": None}
            if passwords.needs_rehash(row["password_hash"]):
                values["password_hash"] = passwords.hash_password(password)
            connection.execute(update(people).where(people.c.id == row["id"]).values(**values))
            person = self._person(connection, row)
            record(connection, person.actor, "login", subject, client=client)
        return person

    # ---- helpers --------------------------------------------------------------------------------
    def _require(self, username: str) -> Person:
        person = self.person(username)
        if person is None:
            raise AccountError(f"no account {username!r}")
        return person

    @staticmethod
    def _check_clinics(connection: Connection, clinic_ids: tuple[str, ...]) -> None:
        known = set(connection.execute(select(clinics.c.id)).scalars())
        missing = sorted(set(clinic_ids) - known)
        if missing:
            raise AccountError(f"no clinic {', '.join(missing)} (add it first: edge-all hub clinic add)")

    @staticmethod
    def _person(connection: Connection, row) -> Person:
        assigned = connection.execute(
            select(person_clinics.c.clinic_id).where(person_clinics.c.person_id == row["id"])
        ).scalars()
        return Person(
            row["id"], row["username"], row["display_name"], row["role"], tuple(sorted(assigned)),
            bool(row["active"]),
        )  # fmt: skip
