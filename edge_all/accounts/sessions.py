"""Server-side web sessions, kept in the database by the SHA-256 of their cookie's token.

The browser holds only a random token (HttpOnly, SameSite=Lax, Secure over https); the database
holds its digest, the person and the session's CSRF token. A stolen database copy therefore holds
no usable cookie; a session unused for IDLE_SECONDS ends; logging in always makes a new token (no
fixation); logging out deletes the row. In the database rather than in memory, so every hub worker
and a restarted hub know the same sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from edge_all.accounts import clock
from edge_all.accounts.people import Accounts, Person
from edge_all.accounts.schema import web_sessions

IDLE_SECONDS = 8 * 3600  # a working day
TOUCH_SECONDS = 60  # last_seen is written at most this often, not on every request


@dataclass(frozen=True)
class WebSession:
    token: str
    csrf: str
    person: Person


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, engine: Engine, accounts: Accounts) -> None:
        self.engine = engine
        self.accounts = accounts

    def start(self, person: Person, client: str) -> WebSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        at = clock.now_iso()
        with self.engine.begin() as connection:
            connection.execute(
                insert(web_sessions).values(
                    token_sha256=_digest(token), person_id=person.id, csrf=csrf, client=client[:100],
                    started_at=at, last_seen_at=at,
                )
            )  # fmt: skip
        return WebSession(token, csrf, person)

    def get(self, token: str | None) -> WebSession | None:
        """The live session of this token, or None (unknown, idle too long, or its account disabled)."""
        if not token or len(token) > 100:
            return None
        digest = _digest(token)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(web_sessions).where(web_sessions.c.token_sha256 == digest)
            ).first()
        if row is None:
            return None
        if row.last_seen_at < clock.later_iso(-IDLE_SECONDS):
            self.end(token)
            return None
        person = self.accounts.person_by_id(row.person_id)
        if person is None or not person.active:
            self.end(token)
            return None
        if row.last_seen_at < clock.later_iso(-TOUCH_SECONDS):
            with self.engine.begin() as connection:
                connection.execute(
                    update(web_sessions).where(web_sessions.c.token_sha256 == digest)
                    .values(last_seen_at=clock.now_iso())
                )  # fmt: skip
        return WebSession(token, row.csrf, person)

    def end(self, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == _digest(token)))
