"""The outbox: what this clinic still owes the hub, in an SQLite file beside the results database.

Why a file of its own: the results database stays exactly what the capture writes (and what is copied
to a stick), and the outbox can be filled from it "right after, idempotently" by any process: each
record's id is made from clinic facts (the session's uid and the row's id), so a rescan after a crash
or a kill -9 enqueues the same ids again and changes nothing (INSERT OR IGNORE; the scan marks move in
the same transaction as the rows). A row leaves the outbox only when the hub has confirmed it
(stored, or already held). The sign-offs that come back down are kept here too, beside (never over)
the model's results.

The results database is read, never written: opened read-only, so a running capture is not disturbed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge_all.digest import sha256_file
from edge_all.errors import EdgeAllError
from edge_all.sync.protocol import PROTOCOL, record, record_id

FILE = "outbox.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,              -- JSON, as it will be sent
    sha256 TEXT NOT NULL,
    image_path TEXT,                 -- the picture to upload first (fields)
    enqueued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    refused_status INTEGER,          -- the hub refused it for good (shown on the station; kept)
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_reviews (
    id INTEGER PRIMARY KEY,          -- the hub's review id
    sample_id TEXT NOT NULL,
    field_record_id TEXT,            -- NULL: of the whole slide
    signoff INTEGER NOT NULL,
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT,
    reviewed_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hub_reviews_by_sample ON hub_reviews(sample_id);
CREATE TABLE IF NOT EXISTS link_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), last_ok_at TEXT, last_error TEXT, last_error_at TEXT
);
"""


class OutboxError(EdgeAllError):
    """The outbox or the results database cannot be read or written."""


@dataclass(frozen=True)
class Pending:
    seq: int
    record_id: str
    kind: str
    body: dict[str, Any]
    sha256: str
    image_path: str | None


@dataclass(frozen=True)
class OutboxState:
    """What the station shows: how much is waiting, refused, and when the hub last answered."""

    pending: int
    refused: int
    oldest: str | None
    last_ok_at: str | None
    last_error: str | None


def outbox_path(results_db: Path) -> Path:
    return results_db.with_name(FILE)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"{path}: cannot open the outbox ({exc})") from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def mark(self, name: str) -> int:
        row = self.connection.execute("SELECT value FROM marks WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _set_mark(connection: sqlite3.Connection, name: str, value: int) -> None:
        connection.execute("INSERT OR REPLACE INTO marks (name, value) VALUES (?, ?)", (name, value))

    # ---- filling it from the results database ------------------------------------------------------
    def enqueue_from(self, results_db: Path, clinic: str, limit: int = 500) -> int:
        """Add what the results database recorded since the last scan; returns how many were added."""
        if not results_db.is_file():
            return 0
        try:
            source = sqlite3.connect(f"file:{results_db}?mode=ro", uri=True, timeout=30.0)
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"{results_db}: cannot read the results database ({exc})") from None
        source.row_factory = sqlite3.Row
        with closing(source):
            try:
                return self._enqueue(source, results_db, clinic, limit)
            except sqlite3.DatabaseError as exc:
                raise OutboxError(f"{results_db}: cannot read the results database ({exc})") from None

    def _enqueue(self, source: sqlite3.Connection, results_db: Path, clinic: str, limit: int) -> int:
        first = source.execute("SELECT uid FROM sessions ORDER BY id LIMIT 1").fetchone()
        if first is None:
            return 0
        identity = first[0]  # a replaced (rescued) results database starts its marks afresh
        capture_mark, review_mark = f"capture:{identity}", f"review:{identity}"
        after = self.mark(capture_mark)
        # What an older results schema lacks reads as none (label roles: 4; the site profile's sha256
        # a session read with: 8, as s_site_profile_sha256, the name the sync protocol gives it).
        session_columns = {column[1] for column in source.execute("PRAGMA table_info(sessions)")}
        optional = "".join(
            f", s.{column} AS s_{name}"
            for column, name in (("label_roles", "label_roles"), ("site_sha256", "site_profile_sha256"))
            if column in session_columns
        )
        rows = source.execute(
            "SELECT c.*, s.uid, s.model AS s_model, s.bundle_sha256 AS s_bundle, s.labels, "
            f"s.edge_all_version, s.started_at AS s_started, s.source AS s_source{optional} "
            "FROM captures c JOIN sessions s ON s.id = c.session_id "
            "WHERE c.id > ? ORDER BY c.id LIMIT ?",
            (after, limit),
        ).fetchall()
        reviews = source.execute(
            "SELECT r.*, s.uid AS field_uid FROM reviews r LEFT JOIN captures c ON c.id = r.capture_id "
            "LEFT JOIN sessions s ON s.id = c.session_id WHERE r.id > ? ORDER BY r.id LIMIT ?",
            (self.mark(review_mark), limit),
        ).fetchall()
        cells = _cells_of(source, [row["id"] for row in rows])
        samples = {row["sample_id"] or "" for row in rows}
        calls = [
            source.execute("SELECT * FROM samples WHERE sample_id = ?", (sample,)).fetchone()
            for sample in samples
        ]
        added = 0
        at = _now()
        with self.transaction() as connection:
            for row in rows:
                body, image = field_body(row, clinic, results_db.parent, cells.get(row["id"], []))
                added += self._add(
                    connection, record("field", record_id(clinic, row["uid"], row["id"]), body), image, at
                )
            for call in calls:
                if call is not None:
                    body = slide_call_body(call, clinic)
                    rid = record_id(
                        clinic, "call", call["sample_id"], call["fields"], call["last_captured_at"]
                    )
                    added += self._add(connection, record("slide_call", rid, body), None, at)
            for review in reviews:
                body = review_body(review, clinic)
                added += self._add(
                    connection,
                    record("review", record_id(clinic, "review", identity, review["id"]), body),
                    None,
                    at,
                )
            if rows:
                self._set_mark(connection, capture_mark, rows[-1]["id"])
            if reviews:
                self._set_mark(connection, review_mark, reviews[-1]["id"])
        return added

    @staticmethod
    def _add(connection: sqlite3.Connection, item: dict[str, Any], image: str | None, at: str) -> int:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO outbox (record_id, kind, body, sha256, image_path, enqueued_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (item["id"], item["kind"], json.dumps(item["body"]), item["sha256"], image, at),
        )
        return cursor.rowcount

    # ---- sending --------------------------------------------------------------------------------
    def pending(self, limit: int) -> list[Pending]:
        rows = self.connection.execute(
            "SELECT seq, record_id, kind, body, sha256, image_path FROM outbox WHERE refused_status IS NULL "
            "ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [Pending(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5]) for row in rows]

    def replace_body(self, seq: int, body: dict[str, Any], sha256: str) -> None:
        """A field whose picture is gone from the card goes without it (same id, new body)."""
        with self.transaction() as connection:
            connection.execute(
                "UPDATE outbox SET body = ?, sha256 = ?, image_path = NULL WHERE seq = ?",
                (json.dumps(body), sha256, seq),
            )

    def confirmed(self, record_ids: list[str]) -> None:
        """The hub holds these: only now do they leave the outbox."""
        if not record_ids:
            return
        with self.transaction() as connection:
            connection.executemany("DELETE FROM outbox WHERE record_id = ?", [(rid,) for rid in record_ids])

    def failed(self, record_id: str, status: int, why: str, permanent: bool) -> None:
        with self.transaction() as connection:
            connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, refused_status = ? "
                "WHERE record_id = ?",
                (f"{status} {why}"[:500], status if permanent else None, record_id),
            )

    def link(self, ok: bool, error: str | None = None) -> None:
        with self.transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO link_state (id) VALUES (1)")
            if ok:
                connection.execute("UPDATE link_state SET last_ok_at = ? WHERE id = 1", (_now(),))
            else:
                connection.execute(
                    "UPDATE link_state SET last_error = ?, last_error_at = ? WHERE id = 1",
                    ((error or "")[:500], _now()),
                )

    # ---- sign-offs coming down ------------------------------------------------------------------
    def store_hub_reviews(self, reviews: list[dict[str, Any]], next_mark: int) -> int:
        at = _now()
        with self.transaction() as connection:
            added = 0
            for review in reviews:
                added += connection.execute(
                    "INSERT OR IGNORE INTO hub_reviews (id, sample_id, field_record_id, signoff, reviewer, "
                    "decision, comment, reviewed_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (review["id"], review["sample_id"], review["field"], int(bool(review["signoff"])),
                     review["reviewer"], review["decision"], review["comment"], review["reviewed_at"], at),
                ).rowcount  # fmt: skip
            self._set_mark(connection, "signoffs", next_mark)
        return added

    def hub_reviews(self, sample_id: str | None) -> list[dict[str, Any]]:
        rows = self.connection.execute(
            "SELECT * FROM hub_reviews WHERE sample_id = ? ORDER BY id", (sample_id or "",)
        ).fetchall()
        return [dict(row) for row in rows]

    def state(self) -> OutboxState:
        pending, refused, oldest = self.connection.execute(
            "SELECT COUNT(*) - COUNT(refused_status), COUNT(refused_status), MIN(enqueued_at) FROM outbox"
        ).fetchone()
        link = self.connection.execute(
            "SELECT last_ok_at, last_error FROM link_state WHERE id = 1"
        ).fetchone()
        return OutboxState(pending, refused, oldest, link[0] if link else None, link[1] if link else None)


def _cells_of(source: sqlite3.Connection, capture_ids: list[int]) -> dict[int, list[sqlite3.Row]]:
    """The recorded white cells of these captures, by capture, in finding order (results schema 4+)."""
    if (
        not capture_ids
        or not source.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cells'"
        ).fetchone()
    ):
        return {}
    found: dict[int, list[sqlite3.Row]] = {}
    marks = ", ".join("?" for _ in capture_ids)
    for cell in source.execute(
        f"SELECT * FROM cells WHERE capture_id IN ({marks}) ORDER BY id", capture_ids
    ).fetchall():
        found.setdefault(cell["capture_id"], []).append(cell)
    return found


def field_body(
    row: sqlite3.Row, clinic: str, base: Path, cells: list[sqlite3.Row] | None = None
) -> tuple[dict[str, Any], str | None]:
    """A capture row (and its cells) as the hub's field record; the picture's path when one was kept."""
    image_path = row["image_path"]
    image, image_sha256 = None, row["image_sha256"]
    if image_path:
        path = Path(image_path) if Path(image_path).is_absolute() else base / image_path
        if path.is_file():
            image = str(path)
            image_sha256 = image_sha256 or sha256_file(path)  # rows recorded without one
    quality = {
        key: row[key]
        for key in ("brightness", "contrast", "clipped", "stained", "focus")
        if row[key] is not None
    }
    roles = _optional(row, "s_label_roles")
    site = _optional(row, "s_site_profile_sha256")
    body = {
        "protocol": PROTOCOL,
        "clinic": clinic,
        "sample_id": row["sample_id"] or "",
        "session": {
            "uid": row["uid"], "model": row["s_model"], "bundle_sha256": row["s_bundle"],
            "labels": json.loads(row["labels"]), "site_profile_sha256": site,
            "edge_all_version": row["edge_all_version"], "started_at": row["s_started"],
            "source": row["s_source"], "label_roles": json.loads(roles) if roles else None,
        },
        "capture_id": row["id"],
        "frame_index": row["frame_index"],
        "field_number": _optional(row, "field_number"),
        "captured_at": row["captured_at"],
        "status": row["status"],
        "label": row["label"],
        "confidence": row["confidence"],
        "probabilities": json.loads(row["probabilities"]) if row["probabilities"] else None,
        "quality": quality,
        "reason": row["reason"],
        "unfamiliarity": row["unfamiliarity"],
        "scale": {"um_per_px": _optional(row, "um_per_px"), "source": _optional(row, "scale_source")},
        "image_sha256": image_sha256 if image else None,
        # A cell model's field (its session has label roles) has a list, empty when no cell was
        # found; a whole-field model's has none.
        "cells": [_cell(cell) for cell in cells or ()] if roles else None,
    }  # fmt: skip
    return body, image


def _optional(row: sqlite3.Row, key: str) -> Any:
    return row[key] if key in row.keys() else None  # noqa: SIM118 - a Row's `in` tests values, not names


def _cell(cell: sqlite3.Row) -> dict[str, Any]:
    """One recorded cell: its box [x, y, width, height] in the stored frame's pixels, class, status."""
    return {
        "box": [cell["x0"], cell["y0"], cell["x1"] - cell["x0"], cell["y1"] - cell["y0"]],
        "label": cell["label"], "confidence": cell["confidence"], "status": cell["status"],
        "reason": cell["reason"], "unfamiliarity": cell["unfamiliarity"],
    }  # fmt: skip


def slide_call_body(row: sqlite3.Row, clinic: str) -> dict[str, Any]:
    counts = {
        key: row[key] for key in ("fields", "good", "all_like", "uncertain", "referred", "rejected", "errors")
    }
    return {
        "clinic": clinic, "sample_id": row["sample_id"] or "", "verdict": row["verdict"], "call": row["call"],
        "counts": counts, "first_captured_at": row["first_captured_at"],
        "last_captured_at": row["last_captured_at"],
    }  # fmt: skip


def review_body(row: sqlite3.Row, clinic: str) -> dict[str, Any]:
    field = record_id(clinic, row["field_uid"], row["capture_id"]) if row["capture_id"] is not None else None
    return {
        "clinic": clinic, "sample_id": row["sample_id"] or "", "field_id": field, "reviewer": row["reviewer"],
        "decision": row["decision"], "comment": row["comment"], "reviewed_at": row["reviewed_at"],
    }  # fmt: skip
