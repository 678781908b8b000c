"""`DeliveryStore` on SQLAlchemy Core: the hub's database choice, so the same table serves SQLite on
one machine and PostgreSQL at a hospital. `metadata` holds the one table, for the hub's migrations."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from edge_all.digest import sha256_bytes
from edge_all.standards.delivery import Delivery, Destination, Outcome, State

metadata = sa.MetaData()

deliveries = sa.Table(
    "standards_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slide_id", sa.String(128), nullable=False, index=True),
    sa.Column("destination", sa.String(8), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("description", sa.String(128), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("payload_sha256", sa.String(64), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("destination", "key", name="uq_standards_deliveries_destination_key"),
    sa.Index("ix_standards_deliveries_due", "destination", "state", "next_attempt_at"),
)

_COLUMNS = [c for c in deliveries.c if c.name != "payload"]


def _utc(when: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time here is UTC."""
    if when is None:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _store(when: datetime | None) -> datetime | None:
    """Every time is stored as UTC (SQLite keeps no offset, so a local time would be read back wrong)."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise ValueError(f"a time without a time zone: {when}")
    return when.astimezone(timezone.utc)


def _delivery(row: sa.Row) -> Delivery:
    return Delivery(
        id=row.id,
        slide_id=row.slide_id,
        destination=Destination(row.destination),
        key=row.key,
        description=row.description,
        payload_sha256=row.payload_sha256,
        state=State(row.state),
        attempts=row.attempts,
        next_attempt_at=_utc(row.next_attempt_at),
        detail=row.detail,
        updated_at=_utc(row.updated_at),
    )


class SqlDeliveryStore:
    """The outbox's storage in one table of any SQLAlchemy database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def _one(self, conn: sa.Connection, where) -> Delivery:
        return _delivery(conn.execute(sa.select(*_COLUMNS).where(where)).one())

    def add(
        self,
        slide_id: str,
        destination: Destination,
        key: str,
        description: str,
        payload: bytes,
        now: datetime,
    ) -> Delivery:
        digest, now = sha256_bytes(payload), _store(now)
        match = (deliveries.c.destination == destination.value) & (deliveries.c.key == key)
        with self.engine.begin() as conn:
            existing = conn.execute(sa.select(*_COLUMNS).where(match)).one_or_none()
            if existing is None:
                conn.execute(
                    deliveries.insert().values(
                        slide_id=slide_id,
                        destination=destination.value,
                        key=key,
                        description=description,
                        payload=payload,
                        payload_sha256=digest,
                        state=State.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        detail="",
                        updated_at=now,
                    )
                )
            elif existing.payload_sha256 != digest:
                conn.execute(
                    deliveries.update()
                    .where(match)
                    .values(
                        payload=payload,
                        payload_sha256=digest,
                        description=description,
                        state=State.PENDING.value,
                        next_attempt_at=now,
                        detail="changed: to be sent again",
                        updated_at=now,
                    )
                )
            return self._one(conn, match)

    def due(self, destination: Destination, now: datetime, limit: int) -> list[Delivery]:
        now = _store(now)
        query = (
            sa.select(*_COLUMNS)
            .where(
                (deliveries.c.destination == destination.value)
                & (deliveries.c.state == State.PENDING.value)
                & (deliveries.c.next_attempt_at <= now)
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def payload(self, delivery_id: int) -> bytes:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(deliveries.c.payload).where(deliveries.c.id == delivery_id)
            ).scalar_one()

    def record(
        self, delivery_id: int, outcome: Outcome, now: datetime, next_attempt_at: datetime | None
    ) -> None:
        now, next_attempt_at = _store(now), _store(next_attempt_at)
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(
                    state=outcome.state.value,
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=next_attempt_at if outcome.state is State.PENDING else None,
                    detail=outcome.detail,
                    updated_at=now,
                )
            )

    def retry(self, delivery_id: int, now: datetime) -> None:
        now = _store(now)
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where((deliveries.c.id == delivery_id) & (deliveries.c.state != State.SENT.value))
                .values(state=State.PENDING.value, next_attempt_at=now, updated_at=now)
            )

    def for_slide(self, slide_id: str) -> list[Delivery]:
        query = sa.select(*_COLUMNS).where(deliveries.c.slide_id == slide_id).order_by(deliveries.c.id)
        with self.engine.connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]
