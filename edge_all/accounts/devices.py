"""Device credentials: how a clinic's Pi proves which clinic it writes for.

An administrator issues a one-time enrolment code for a clinic (valid CODE_SECONDS); the Pi trades it
(`edge-all hub enrol`) for its own random token, which no person ever sees. Both are kept only as
SHA-256 digests: a token is 256 random bits, so a fast digest is as safe as a slow one, and argon2
on every device request would cost the hub ~50 ms of CPU each. Revoking a device refuses its next
request; the device's records so far stay.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from edge_all.accounts import clock
from edge_all.accounts.audit import Actor, record
from edge_all.accounts.people import AccountError
from edge_all.accounts.schema import clinics, devices, enrol_codes

CODE_SECONDS = 24 * 3600
SEEN_SECONDS = 60  # last_seen_at is written at most this often


class EnrolmentRefused(Exception):
    """An enrolment code that is unknown, used or expired (the hub answers 403, and audits it)."""


@dataclass(frozen=True)
class Device:
    id: int
    clinic_id: str
    name: str
    revoked: bool = False


@dataclass(frozen=True)
class Enrolment:
    device: Device
    token: str  # shown once, to the device


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Devices:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def issue_code(self, clinic_id: str, device_name: str, by: Actor) -> str:
        code = secrets.token_urlsafe(18)
        with self.engine.begin() as connection:
            if connection.execute(select(clinics.c.id).where(clinics.c.id == clinic_id)).first() is None:
                raise AccountError(f"no clinic {clinic_id!r} (add it first: edge-all hub clinic add)")
            connection.execute(
                insert(enrol_codes).values(
                    code_sha256=digest(code), clinic_id=clinic_id, device_name=device_name[:200],
                    issued_by=by.name, issued_at=clock.now_iso(), expires_at=clock.later_iso(CODE_SECONDS),
                )
            )  # fmt: skip
            record(connection, by, "issue enrolment code", f"clinic {clinic_id}", clinic_id=clinic_id,
                   detail={"device": device_name})  # fmt: skip
        return code

    def enrol(self, code: str, client: str) -> Enrolment:
        """Trade a one-time code for a new device and its token; the code is then spent.

        The code is claimed by a conditional UPDATE (used_at IS NULL), so two Pis racing with one
        code get one device between them; a refusal is committed (audited) before it is raised.
        """
        token = secrets.token_urlsafe(32)
        now = clock.now_iso()
        code_sha256 = digest(code[:100])
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(enrol_codes)
                .where(enrol_codes.c.code_sha256 == code_sha256, enrol_codes.c.used_at.is_(None),
                       enrol_codes.c.expires_at >= now)
                .values(used_at=now)
            ).rowcount  # fmt: skip
            row = connection.execute(
                select(enrol_codes).where(enrol_codes.c.code_sha256 == code_sha256)
            ).first()
            if claimed == 1:
                device_id = connection.execute(
                    insert(devices).values(
                        clinic_id=row.clinic_id, name=row.device_name, token_sha256=digest(token),
                        issued_by=row.issued_by, issued_at=now,
                    )
                ).inserted_primary_key[0]  # fmt: skip
                connection.execute(
                    update(enrol_codes)
                    .where(enrol_codes.c.code_sha256 == code_sha256)
                    .values(device_id=device_id)
                )
                device = Device(int(device_id), row.clinic_id, row.device_name)
                record(
                    connection, Actor.device(device.id), "enrol", f"device {device.id}",
                    clinic_id=device.clinic_id, client=client, detail={"name": device.name},
                )  # fmt: skip
                return Enrolment(device, token)
            why = "unknown" if row is None else "already used" if row.used_at else "expired"
            record(connection, Actor("device:?", "device"), "enrolment refused", "", client=client,
                   clinic_id=row.clinic_id if row else None, detail={"why": why})  # fmt: skip
        raise EnrolmentRefused(f"enrolment code {why}")

    def by_token(self, token: str) -> Device | None:
        """The device this token belongs to, if it is not revoked."""
        if not token or len(token) > 100:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(devices).where(devices.c.token_sha256 == digest(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.last_seen_at is None or row.last_seen_at < clock.later_iso(-SEEN_SECONDS):
            with self.engine.begin() as connection:
                connection.execute(
                    update(devices).where(devices.c.id == row.id).values(last_seen_at=clock.now_iso())
                )
        return Device(row.id, row.clinic_id, row.name)

    def revoke(self, device_id: int, by: Actor) -> Device:
        with self.engine.begin() as connection:
            row = connection.execute(select(devices).where(devices.c.id == device_id)).first()
            if row is None:
                raise AccountError(f"no device {device_id}")
            if row.revoked_at is None:
                connection.execute(
                    update(devices).where(devices.c.id == device_id).values(revoked_at=clock.now_iso())
                )
                record(connection, by, "revoke device", f"device {device_id}", clinic_id=row.clinic_id)
        return Device(row.id, row.clinic_id, row.name, True)

    def all(self) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(devices).order_by(devices.c.id)).mappings().all()
        return [{key: value for key, value in row.items() if key != "token_sha256"} for row in rows]
