"""The results database: one SQLite row per captured frame, committed before the next frame.

Durability settings, and why:
- WAL journal: a reader (`edge-all results`) never blocks the capture loop, and a crash mid-write
  leaves the last committed frame intact.
- synchronous=FULL: in WAL mode, NORMAL survives a process crash or kill but may lose the last
  commits on a power cut, and a Raspberry Pi clipped to a microscope does lose power. FULL syncs
  the WAL on every commit; at a frame a second that is one fsync a second, which an SD card takes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_all.errors import EdgeAllError

SCHEMA_VERSION = 1
STATUSES = ("classified", "uncertain", "rejected", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT,
    source TEXT NOT NULL,
    sample_id TEXT,
    model TEXT NOT NULL,
    bundle_sha256 TEXT NOT NULL,
    labels TEXT NOT NULL,            -- JSON list, in output order
    threshold REAL NOT NULL,
    quality_thresholds TEXT,         -- JSON object, NULL when the gate was off
    edge_all_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    captured_at TEXT NOT NULL,       -- ISO 8601, UTC
    sample_id TEXT,
    source TEXT NOT NULL,
    frame_index INTEGER NOT NULL,
    origin TEXT NOT NULL,            -- where the frame came from (file path, video#frame)
    image_path TEXT,                 -- the saved frame (or the folder source's file)
    image_sha256 TEXT,
    status TEXT NOT NULL CHECK (status IN ('classified', 'uncertain', 'rejected', 'error')),
    label TEXT,                      -- top label (also for uncertain frames)
    confidence REAL,
    probabilities TEXT,              -- JSON object label -> probability
    brightness REAL,
    contrast REAL,
    clipped REAL,
    stained REAL,
    focus REAL,
    reason TEXT,                     -- why rejected, or the error
    bundle_sha256 TEXT NOT NULL,
    inference_ms REAL
);
CREATE INDEX IF NOT EXISTS captures_by_sample ON captures(sample_id);
CREATE INDEX IF NOT EXISTS captures_by_session ON captures(session_id);
"""

CAPTURE_COLUMNS = (
    "id", "session_id", "captured_at", "sample_id", "source", "frame_index", "origin", "image_path",
    "image_sha256", "status", "label", "confidence", "probabilities", "brightness", "contrast",
    "clipped", "stained", "focus", "reason", "bundle_sha256", "inference_ms",
)  # fmt: skip


class StoreError(EdgeAllError):
    """The database cannot be opened, is from an unknown schema, or lacks what was asked for."""


class StorageFull(EdgeAllError):
    """The disk (or the database's size limit) is full: the capture must stop."""


@dataclass(frozen=True)
class SessionInfo:
    started_at: str
    source: str
    sample_id: str | None
    model: str
    bundle_sha256: str
    labels: list[str]
    threshold: float
    quality_thresholds: dict[str, float] | None
    edge_all_version: str


@dataclass(frozen=True)
class CaptureRecord:
    """One frame's outcome, as stored (the id is assigned by the database)."""

    session_id: int
    captured_at: str
    sample_id: str | None
    source: str
    frame_index: int
    origin: str
    status: str
    bundle_sha256: str
    image_path: str | None = None
    image_sha256: str | None = None
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] | None = None
    quality: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    inference_ms: float | None = None
    id: int | None = None  # set once stored


def default_db_path() -> Path:
    """$XDG_DATA_HOME/edge-all/results.db, else ~/.local/share/edge-all/results.db."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "edge-all" / "results.db"


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
        return code == getattr(sqlite3, "SQLITE_FULL", 13) or "full" in str(exc).lower()
    return isinstance(exc, OSError) and exc.errno in (28, 122)  # ENOSPC, EDQUOT


class ResultsStore:
    """The SQLite results database. Use as a context manager; every write commits at once."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> ResultsStore:
        path = Path(path)
        if not create and not path.is_file():
            raise StoreError(
                f"{path}: no results database here (run capture-and-classify first, or pass --db)"
            )
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=30.0)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            store = cls(connection, path)
            store._migrate(create)
            return store
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open results database ({exc})") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot create results database ({exc.strerror or exc})") from None

    def _migrate(self, create: bool) -> None:
        tables = {
            row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "schema_version" not in tables:
            if tables:
                raise StoreError(f"{self.path}: an SQLite file, but not an edge-all results database")
            if not create:
                raise StoreError(f"{self.path}: empty database (no edge-all results yet)")
            # One transaction: a database never has tables without the version that describes them.
            self.connection.executescript(
                f"BEGIN;{_SCHEMA}INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION});COMMIT;"
            )
            return
        version = self.connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: results schema version {version}, this edge-all reads version {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------------
    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        try:
            with self.connection:
                cursor = self.connection.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if is_disk_full(exc):
                raise StorageFull(f"{self.path}: database or disk is full ({exc})") from None
            raise
        return int(cursor.lastrowid or 0)

    def start_session(self, info: SessionInfo) -> int:
        data = asdict(info)
        data["labels"] = json.dumps(info.labels)
        data["quality_thresholds"] = json.dumps(info.quality_thresholds) if info.quality_thresholds else None
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        return self._write(f"INSERT INTO sessions ({columns}) VALUES ({marks})", tuple(data.values()))

    def end_session(self, session_id: int, ended_at: str, reason: str) -> None:
        self._write(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?", (ended_at, reason, session_id)
        )

    def add(self, record: CaptureRecord) -> int:
        quality = record.quality
        values = (
            record.session_id, record.captured_at, record.sample_id, record.source, record.frame_index,
            record.origin, record.image_path, record.image_sha256, record.status, record.label,
            record.confidence, json.dumps(record.probabilities) if record.probabilities is not None else None,
            quality.get("brightness"), quality.get("contrast"), quality.get("clipped"),
            quality.get("stained"), quality.get("focus"), record.reason, record.bundle_sha256,
            record.inference_ms,
        )  # fmt: skip
        columns = ", ".join(CAPTURE_COLUMNS[1:])
        marks = ", ".join("?" for _ in values)
        return self._write(f"INSERT INTO captures ({columns}) VALUES ({marks})", values)

    # ---- reading ------------------------------------------------------------------------------
    def captures(
        self, sample_id: str | None = None, session_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Capture rows in insertion order, optionally for one sample or session."""
        sql, params = f"SELECT {', '.join(CAPTURE_COLUMNS)} FROM captures", []
        where = []
        if sample_id is not None:
            where.append("sample_id IS ?")
            params.append(sample_id)
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in self.connection.execute(sql + " ORDER BY id", params):
            yield dict(row)

    def capture(self, row_id: int) -> dict[str, Any] | None:
        row = self.connection.execute(
            f"SELECT {', '.join(CAPTURE_COLUMNS)} FROM captures WHERE id = ?", (row_id,)
        ).fetchone()
        return dict(row) if row else None

    def sessions(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.connection.execute("SELECT * FROM sessions ORDER BY id")]

    def sample_ids(self) -> list[str | None]:
        rows = self.connection.execute("SELECT sample_id FROM captures GROUP BY sample_id ORDER BY MIN(id)")
        return [row[0] for row in rows]

    def origins(self, source: str, sample_id: str | None) -> list[str]:
        """Where the frames already recorded for this source and sample came from."""
        rows = self.connection.execute(
            "SELECT DISTINCT origin FROM captures WHERE source = ? AND sample_id IS ?", (source, sample_id)
        )
        return [row[0] for row in rows]

    def has_sample(self, sample_id: str) -> bool:
        return (
            self.connection.execute(
                "SELECT 1 FROM captures WHERE sample_id = ? LIMIT 1", (sample_id,)
            ).fetchone()
            is not None
        )
