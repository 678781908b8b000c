"""The results database: one SQLite row per captured frame, committed before the next frame.

Durability settings, and why:
- WAL journal: a reader (`edge-all results`) never blocks the capture loop, and a crash mid-write
  leaves the last committed frame intact.
- synchronous=FULL: in WAL mode, NORMAL survives a process crash or kill but may lose the last
  commits on a power cut, and a Raspberry Pi clipped to a microscope does lose power. FULL syncs
  the WAL on every commit; at a frame a second that is one fsync a second, which an SD card takes.

What can go wrong, and what the user hears (one line, never a sqlite3 traceback):
- A damaged file (a card failing in its middle pages): every method raises StoreError naming the
  file and how to recover what it holds (`sqlite3 results.db .recover`).
- The file deleted or replaced while a capture writes to it: the next commit notices, copies the
  still-open database (every frame so far) to a new file beside it and raises DatabaseGone, so the
  capture stops with that one line instead of writing on into a file nobody can see.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from edge_all import safe_write
from edge_all.errors import EdgeAllError
from edge_all.results.errors import DatabaseGone, StorageFull, StoreError
from edge_all.results.judged import JudgedCell
from edge_all.results.schema import migrate
from edge_all.results.summary import DEFAULT_RULE, SampleSummary
from edge_all.safe_text import printable
from edge_all.triage.screening import (
    BENIGN_LABEL,
    CellCounts,
    FieldCounts,
    ScreeningCall,
    ScreeningRule,
    not_all_like_labels,
    screening_call,
)
from edge_all.triage.status import FLAGGED, Status

CAPTURE_COLUMNS = (
    "id", "session_id", "captured_at", "sample_id", "source", "frame_index", "origin", "image_path",
    "image_sha256", "status", "label", "confidence", "probabilities", "brightness", "contrast",
    "clipped", "stained", "focus", "reason", "bundle_sha256", "inference_ms", "unfamiliarity",
    "heatmap_path", "um_per_px", "scale_source", "glass", "drift", "field_number",
)  # fmt: skip
SAMPLE_COLUMNS = (
    "sample_id", "first_captured_at", "last_captured_at", "fields", "good", "all_like", "uncertain",
    "referred", "rejected", "errors", "verdict", "call",
    "fields_with_cells", "cells_all_like", "cells_referred", "cells_cleared", "cells_dropped",
)  # fmt: skip
CELL_COLUMNS = (
    "id",
    "capture_id",
    "x0",
    "y0",
    "x1",
    "y1",
    "label",
    "confidence",
    "status",
    "reason",
    "unfamiliarity",
)
REVIEW_COLUMNS = ("id", "sample_id", "capture_id", "reviewed_at", "reviewer", "decision", "comment")
CELL_REVIEW_COLUMNS = ("id", "cell_id", "reviewed_at", "reviewer", "label", "comment")
# A cell as the gallery shows it: the cell, its field, and the latest specialist's word on it (if any).
_CELL_WITH_REVIEW = (
    "SELECT cells.*, captures.field_number, captures.sample_id, captures.session_id, "
    "captures.image_path, r.label AS reviewed_label, r.reviewer AS reviewed_by, r.reviewed_at AS reviewed_at "
    "FROM cells JOIN captures ON captures.id = cells.capture_id "
    "LEFT JOIN cell_reviews r ON r.id = (SELECT MAX(id) FROM cell_reviews WHERE cell_id = cells.id)"
)


SQLITE_MAX_INTEGER = 2**63 - 1


def database_failure(path: Path, exc: BaseException, doing: str = "use") -> EdgeAllError:
    """The one-line error for what SQLite (or a number or text it cannot hold) did to `path`."""
    if is_disk_full(exc):
        return StorageFull(f"{path}: database or disk is full ({exc})")
    if isinstance(exc, OverflowError):
        return StoreError(f"{path}: a number too large for the results database ({exc})")
    if isinstance(exc, UnicodeEncodeError):  # e.g. a sample id typed as bytes that are not UTF-8
        return StoreError(
            f"{path}: {printable(exc.object)} is not valid UTF-8 text (the database holds UTF-8)"
        )
    message = str(exc)
    if "locked" in message or "busy" in message:
        return StoreError(f"{path}: the results database is locked by another program ({message}); try again")
    advice = ""
    if any(word in message for word in ("malformed", "corrupt", "not a database")):
        advice = (
            "; the file is damaged (or not a database): stop edge-all, keep a copy of it, and recover "
            f"what it holds with: sqlite3 {path} .recover | sqlite3 {path}.recovered"
        )
    return StoreError(f"{path}: cannot {doing} the results database ({message}){advice}")


def _one_line_errors(cls: type) -> type:
    """Make every public method of `cls` turn SQLite's errors into database_failure's one line."""

    def wrap(method: Callable) -> Callable:
        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def generator(self: ResultsStore, *args: Any, **kwargs: Any) -> Iterator[Any]:
                try:
                    yield from method(self, *args, **kwargs)
                except (sqlite3.DatabaseError, OverflowError, UnicodeEncodeError) as exc:
                    raise database_failure(self.path, exc) from None

            return generator

        @functools.wraps(method)
        def plain(self: ResultsStore, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except (sqlite3.DatabaseError, OverflowError, UnicodeEncodeError) as exc:
                raise database_failure(self.path, exc) from None

        return plain

    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(method):
            setattr(cls, name, wrap(method))
    return cls


@dataclass(frozen=True)
class FrameCount:
    """How many frames a finite source (a video) said it had, and how many could be decoded."""

    expected: int | None  # the container's frame count; None: it gives none
    read: int

    @property
    def ended_early(self) -> bool:
        """Fewer frames decoded than the container promised: the file is damaged or was cut short."""
        return self.expected is not None and self.read < self.expected

    def describe(self) -> str:
        if self.expected is None:
            return f"{self.read} frames read (the video gives no frame count)"
        early = ": ended early (the file is damaged or was cut short)" if self.ended_early else ""
        return f"{self.read} of {self.expected} frames read{early}"


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
    unfamiliarity_threshold: float | None = None  # None: the model carries no referral detector
    screening_rule: ScreeningRule = ScreeningRule()
    camera_settings: dict[str, Any] | None = None
    um_per_px: float | None = None  # the scale given for the camera and objective (--um-per-px)
    label_roles: dict[str, str] | None = None  # a cell model's roles (bundle format 3); None: whole-field
    site_sha256: str | None = None  # the site profile it read with (edge_all.site); None: not commissioned


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
    unfamiliarity: float | None = None  # None: the model carries no referral detector
    heatmap_path: str | None = None
    um_per_px: float | None = None  # the scale the field was read at; None: unknown or not looked for
    scale_source: str | None = None  # given, site, estimated or bundle-free (edge_all.cells.scale)
    cells: tuple[JudgedCell, ...] = ()  # a cell model's white cells, boxes in the frame's pixels
    drift: str | None = None  # read with a site: "this field does not look like the commissioning slide: ..."
    id: int | None = None  # set once stored


@dataclass(frozen=True)
class Review:
    """A specialist's word on one field (`capture_id`) or on a whole sample (`capture_id` None).

    Stored beside the model's result, never over it: the database refuses to change either.
    """

    sample_id: str | None
    reviewer: str
    decision: str  # a field: the class the specialist sees; a sample: the verdict
    reviewed_at: str
    capture_id: int | None = None
    comment: str | None = None


@dataclass(frozen=True)
class CellReview:
    """A specialist's word on one white cell (`cell_id`): a class, not a white cell, or not assessable.

    Stored beside the model's cell, never over it, append-only like the field reviews (schema 7)."""

    cell_id: int
    reviewer: str
    label: str
    reviewed_at: str
    comment: str | None = None


@dataclass(frozen=True)
class Stored:
    """A frame just stored: its id, and its sample's screening call with it counted."""

    id: int
    call: ScreeningCall


_Result = TypeVar("_Result")


def default_db_path() -> Path:
    """$XDG_DATA_HOME/edge-all/results.db, else ~/.local/share/edge-all/results.db."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "edge-all" / "results.db"


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
        return code == getattr(sqlite3, "SQLITE_FULL", 13) or "full" in str(exc).lower()
    return safe_write.is_disk_full(exc)


def non_finite_numbers(record: CaptureRecord) -> list[str]:
    """Each number of `record` that is NaN or infinite, as `name is value` (empty: all are finite)."""
    numbers = {
        "confidence": record.confidence, "inference_ms": record.inference_ms,
        "unfamiliarity": record.unfamiliarity, "um_per_px": record.um_per_px,
        **{f"quality {name}": value for name, value in record.quality.items()},
        **{f"probability of {printable(label)}": p for label, p in (record.probabilities or {}).items()},
        **{f"cell {i} {name}": value for i, cell in enumerate(record.cells)
           for name, value in (("confidence", cell.confidence), ("unfamiliarity", cell.unfamiliarity))},
    }  # fmt: skip
    return [
        f"{name} is {value}"
        for name, value in numbers.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]


def as_unrecordable(record: CaptureRecord, problems: list[str]) -> CaptureRecord:
    """The frame as an error, its measures dropped, saying which number could not be recorded: what a
    capture records instead of stopping (a broken model's NaN must not end a slide)."""
    return replace(
        record, status=Status.ERROR, reason=f"could not be recorded: {'; '.join(problems)[:500]}",
        label=None, confidence=None, probabilities=None, quality={}, inference_ms=None, unfamiliarity=None,
        um_per_px=None, scale_source=None, cells=(),
    )  # fmt: skip


@_one_line_errors
class ResultsStore:
    """The SQLite results database. Use as a context manager; every write commits at once.

    Every public method raises one-line errors (StoreError, StorageFull), never sqlite3's.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._rules: dict[int, tuple[ScreeningRule, list[str]]] = {}
        self._has_cells = False  # the version 4 cells table (found once, see _cells_ready)
        self._identity = _identity(path)  # the file this connection writes (see _check_in_place)

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
            migrate(connection, path, create, store._refresh_sample)
            return store
        except sqlite3.DatabaseError as exc:
            raise database_failure(path, exc, "open") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot create results database ({exc.strerror or exc})") from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------------
    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        return self._transaction(lambda: int(self.connection.execute(sql, params).lastrowid or 0))

    def start_session(self, info: SessionInfo) -> int:
        """Record a new session; it also gets a random uid, unique for ever (it names saved files)."""
        data = {**asdict(info), "uid": uuid.uuid4().hex}
        data["labels"] = json.dumps(info.labels)
        data["quality_thresholds"] = json.dumps(info.quality_thresholds) if info.quality_thresholds else None
        data["screening_rule"] = json.dumps(info.screening_rule.to_dict())
        data["camera_settings"] = json.dumps(info.camera_settings) if info.camera_settings else None
        data["label_roles"] = json.dumps(info.label_roles) if info.label_roles else None
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        return self._write(f"INSERT INTO sessions ({columns}) VALUES ({marks})", tuple(data.values()))

    def end_session(
        self, session_id: int, ended_at: str, reason: str, frames: FrameCount | None = None
    ) -> None:
        """Record how a session ended; `frames`: a video's expected and decoded frame counts."""
        expected, read = (None, None) if frames is None else (frames.expected, frames.read)
        early = int(frames is not None and frames.ended_early)
        self._write(
            "UPDATE sessions SET ended_at = ?, end_reason = ?, frames_expected = ?, frames_read = ?, "
            "ended_early = ? WHERE id = ?",
            (ended_at, reason, expected, read, early, session_id),
        )

    def set_camera_settings(self, session_id: int, settings: dict[str, Any]) -> None:
        """Record what the camera's exposure and white balance were locked to for this session."""
        self._write(
            "UPDATE sessions SET camera_settings = ? WHERE id = ?", (json.dumps(settings), session_id)
        )

    def add(self, record: CaptureRecord) -> Stored:
        """Store one frame and bring its sample's counts and screening call up to date, atomically;
        the frame's id and its sample's call, as the database now holds them."""
        self._refuse_non_finite(record)
        quality = record.quality
        values = (
            record.session_id, record.captured_at, record.sample_id, record.source, record.frame_index,
            record.origin, record.image_path, record.image_sha256, record.status, record.label,
            record.confidence, json.dumps(record.probabilities) if record.probabilities is not None else None,
            quality.get("brightness"), quality.get("contrast"), quality.get("clipped"),
            quality.get("stained"), quality.get("focus"), record.reason, record.bundle_sha256,
            record.inference_ms, record.unfamiliarity, record.heatmap_path, record.um_per_px,
            record.scale_source, quality.get("glass"), record.drift, record.sample_id,
        )  # fmt: skip
        columns = ", ".join(CAPTURE_COLUMNS[1:])
        # The field's number within its sample: one more than the sample's last, in the same
        # transaction as the insert (the unique index refuses a number given twice).
        marks = ", ".join("?" for _ in values[:-1])
        marks += (
            ", (SELECT coalesce(MAX(field_number), 0) + 1 FROM captures "
            "WHERE coalesce(sample_id, '') = coalesce(?, ''))"
        )
        rule, labels = self.session_rule(record.session_id)

        def insert() -> Stored:
            cursor = self.connection.execute(f"INSERT INTO captures ({columns}) VALUES ({marks})", values)
            if record.cells:
                capture_id = int(cursor.lastrowid or 0)
                self.connection.executemany(
                    f"INSERT INTO cells ({', '.join(CELL_COLUMNS[1:])}) VALUES ({', '.join('?' * 10)})",
                    [(capture_id, *cell.box, cell.label, cell.confidence, cell.status, cell.reason,
                      cell.unfamiliarity) for cell in record.cells],
                )  # fmt: skip
            call = self._refresh_sample(record.sample_id, rule, labels)
            assert call is not None  # the sample has at least the field just inserted
            return Stored(int(cursor.lastrowid or 0), call)

        return self._transaction(insert)

    def _refuse_non_finite(self, record: CaptureRecord) -> None:
        """SQLite stores NaN as NULL (a result would read as never measured) and JSON holds neither
        NaN nor infinity (no page could show the row): such a record is refused, naming the number."""
        bad = non_finite_numbers(record)
        if bad:
            raise StoreError(f"{self.path}: {bad[0]}, not a finite number; the frame is not recorded")

    def add_review(self, review: Review) -> int:
        """Append a specialist's review; the model's results stay as they were recorded."""
        if review.capture_id is not None:
            row = self.capture(review.capture_id)
            if row is None or (row["sample_id"] or "") != (review.sample_id or ""):
                raise StoreError(f"no field {review.capture_id} in sample {review.sample_id!r}")
        return self._write(
            "INSERT INTO reviews (sample_id, capture_id, reviewed_at, reviewer, decision, comment) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (review.sample_id or "", review.capture_id, review.reviewed_at, review.reviewer,
             review.decision, review.comment),
        )  # fmt: skip

    def add_cell_review(self, review: CellReview) -> int:
        """Append a specialist's word on one white cell; the model's cell stays as it was recorded."""
        if self.cell(review.cell_id) is None:
            raise StoreError(f"no white cell {review.cell_id}")
        return self._write(
            "INSERT INTO cell_reviews (cell_id, reviewed_at, reviewer, label, comment) "
            "VALUES (?, ?, ?, ?, ?)",
            (review.cell_id, review.reviewed_at, review.reviewer, review.label, review.comment),
        )

    def _transaction(self, work: Callable[[], _Result]) -> _Result:
        with self.connection:
            result = work()
        self._check_in_place()
        return result

    def _check_in_place(self) -> None:
        """Raise DatabaseGone (after rescuing what the open file holds) if the file was removed."""
        if self._identity is None or _identity(self.path) == self._identity:
            return
        what = "deleted" if not self.path.exists() else "replaced by another file"
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        rescue = self.path.with_name(f"{self.path.stem}.rescued-{stamp}{self.path.suffix or '.db'}")
        try:
            with sqlite3.connect(rescue) as copy:
                self.connection.backup(copy)
            copy.close()
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseGone(
                f"{self.path}: the results database was {what} while in use, and its frames could not be "
                f"copied to {rescue} ({exc}); stopped"
            ) from None
        self._identity = None  # rescued once; the caller stops
        raise DatabaseGone(
            f"{self.path}: the results database was {what} while in use; every frame recorded so far "
            f"was saved to {rescue}; stopped"
        )

    def session_rule(self, session_id: int) -> tuple[ScreeningRule, list[str]]:
        """The screening rule and labels a session recorded (cached: they never change)."""
        if session_id not in self._rules:
            row = self.connection.execute(
                "SELECT screening_rule, labels FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no session {session_id}")
            rule = ScreeningRule(**json.loads(row[0])) if row[0] else ScreeningRule()
            self._rules[session_id] = (rule, json.loads(row[1]))
        return self._rules[session_id]

    def _cells_ready(self) -> bool:
        """Whether the version 4 cells table is there (not yet, while a version 1 file is upgraded)."""
        if not self._has_cells:
            self._has_cells = bool(
                self.connection.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='cells'"
                ).fetchone()
            )
        return self._has_cells

    def label_roles(self, sample_id: str | None) -> dict[str, str] | None:
        """The label roles of the session that recorded this sample's latest field (a cell model's:
        all_like, not_all_like, refer, not_a_white_cell); None for a whole-field model."""
        row = self.connection.execute(
            "SELECT s.label_roles FROM captures c JOIN sessions s ON s.id = c.session_id "
            "WHERE c.sample_id IS ? ORDER BY c.id DESC LIMIT 1",
            (sample_id,),
        ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def not_all_like(self, sample_id: str | None) -> frozenset[str]:
        """The labels a classified field of this sample is not ALL-like with: its latest session's
        cell model's roles, else Benign (edge_all.triage.screening.not_all_like_labels)."""
        return not_all_like_labels(self.label_roles(sample_id))

    def cell_counts(self, sample_id: str | None) -> CellCounts:
        """A sample's white cells by status, and how many of its fields had any (GROUP BY in SQLite)."""
        rows = self.connection.execute(
            "SELECT cells.status, COUNT(*) FROM cells JOIN captures ON captures.id = cells.capture_id "
            "WHERE captures.sample_id IS ? GROUP BY cells.status",
            (sample_id,),
        ).fetchall()
        by_status = {status: n for status, n in rows}
        fields = self.connection.execute(
            "SELECT COUNT(DISTINCT cells.capture_id) FROM cells "
            "JOIN captures ON captures.id = cells.capture_id "
            "WHERE captures.sample_id IS ? AND cells.status != 'dropped'",
            (sample_id,),
        ).fetchone()[0]
        return CellCounts(
            int(fields), by_status.get("all-like", 0), by_status.get("referred", 0),
            by_status.get("cleared", 0), by_status.get("dropped", 0),
        )  # fmt: skip

    def cells(self, capture_id: int) -> list[dict[str, Any]]:
        """A field's white cells as recorded (empty for a whole-field model's field), in finding order,
        each with the latest specialist's word on it (`reviewed_label`, `reviewed_by`; None: none)."""
        rows = self.connection.execute(
            f"{_CELL_WITH_REVIEW} WHERE cells.capture_id = ? ORDER BY cells.id", (capture_id,)
        )
        return [_cell_row(row) for row in rows]

    def cell(self, cell_id: int) -> dict[str, Any] | None:
        """One white cell with its field's sample, session, number and picture, and its latest review."""
        if not 0 <= cell_id <= SQLITE_MAX_INTEGER:
            return None
        row = self.connection.execute(f"{_CELL_WITH_REVIEW} WHERE cells.id = ?", (cell_id,)).fetchone()
        return _cell_row(row) if row else None

    def cell_classes(self, sample_id: str | None) -> dict[str, int]:
        """How many white cells of a sample the model gave each label (GROUP BY in SQLite)."""
        rows = self.connection.execute(
            "SELECT cells.label, COUNT(*) FROM cells JOIN captures ON captures.id = cells.capture_id "
            "WHERE captures.sample_id IS ? GROUP BY cells.label",
            (sample_id or None,),
        )
        return {label: int(n) for label, n in rows}

    def sample_cells(
        self, sample_id: str | None, label: str, *, limit: int, offset: int = 0
    ) -> list[dict[str, Any]]:
        """One page of a sample's white cells of one label, in the order they were found."""
        rows = self.connection.execute(
            f"{_CELL_WITH_REVIEW} WHERE captures.sample_id IS ? AND cells.label = ? "
            "ORDER BY cells.id LIMIT ? OFFSET ?",
            (sample_id or None, label, limit, offset),
        )
        return [_cell_row(row) for row in rows]

    def cell_reviews(self, sample_id: str | None) -> list[dict[str, Any]]:
        """Every review of a sample's white cells, oldest first, with the cell's field number and
        the model's label beside it."""
        rows = self.connection.execute(
            "SELECT r.id, r.cell_id, r.reviewed_at, r.reviewer, r.label, r.comment, cells.capture_id, "
            "cells.label AS model_label, cells.confidence, captures.field_number FROM cell_reviews r "
            "JOIN cells ON cells.id = r.cell_id JOIN captures ON captures.id = cells.capture_id "
            "WHERE captures.sample_id IS ? ORDER BY r.id",
            (sample_id or None,),
        )
        return [dict(row) for row in rows]

    def _refresh_sample(
        self, sample_id: str | None, rule: ScreeningRule, labels: list[str]
    ) -> ScreeningCall | None:
        """Recount one sample from its captures and store its call (inside the caller's transaction);
        the call, or None when the sample has no fields.

        A recount rather than an increment: the row can never drift from the captures it sums.
        """
        groups = self.connection.execute(
            "SELECT status, label, COUNT(*), MIN(captured_at), MAX(captured_at) FROM captures "
            "WHERE sample_id IS ? GROUP BY status, label",
            (sample_id,),
        ).fetchall()
        if not groups:
            return None
        # An upgrade from version 1 recounts before the version 4 cells exist: the counts as they were.
        ready = self._cells_ready()
        not_all_like = self.not_all_like(sample_id) if ready else frozenset({BENIGN_LABEL})
        counts = FieldCounts.of([(row[0], row[1], row[2]) for row in groups], not_all_like)
        call = screening_call(counts, rule, labels, not_all_like != frozenset({BENIGN_LABEL}))
        first, last = min(row[3] for row in groups), max(row[4] for row in groups)
        columns = SAMPLE_COLUMNS if ready else SAMPLE_COLUMNS[: -len(CellCounts().to_dict())]
        values = (sample_id or "", first, last, *counts.to_dict().values(), call.verdict, call.reason)
        if ready:
            values += tuple(self.cell_counts(sample_id).to_dict().values())
        self.connection.execute(
            f"INSERT OR REPLACE INTO samples ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            values,
        )
        return call

    # ---- reading ------------------------------------------------------------------------------
    def captures(
        self, sample_id: str | None = None, session_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Capture rows in insertion order, optionally for one sample or session."""
        where, params = _rows_of(sample_id, session_id)
        for row in self.connection.execute(
            f"SELECT {', '.join(CAPTURE_COLUMNS)} FROM captures{where} ORDER BY id", params
        ):
            yield dict(row)

    def summaries(
        self,
        sample_id: str | None = None,
        session_id: int | None = None,
        labels: Iterable[str] = (),
        rule: ScreeningRule = DEFAULT_RULE,
    ) -> list[SampleSummary]:
        """One summary per sample (in order of first field) of the rows `captures(sample_id,
        session_id)` would give, counted by the database (GROUP BY), not row by row."""
        where, params = _rows_of(sample_id, session_id)
        # A rejected field is counted by its reason's code: the text before the first ':'.
        code = (
            "CASE WHEN status = ? THEN substr(coalesce(reason, ''), 1, "
            "instr(coalesce(reason, '') || ':', ':') - 1) END"
        )
        groups = self.connection.execute(
            f"SELECT sample_id, status, label, {code} AS code, COUNT(*) FROM captures{where} "
            "GROUP BY sample_id, status, label, code ORDER BY MIN(id)",
            [Status.REJECTED, *params],
        )
        summaries: dict[str | None, SampleSummary] = {}
        labels = tuple(labels)
        for sample, status, label, reason_code, n in groups:
            if sample not in summaries:
                summaries[sample] = SampleSummary(sample, rule=rule, labels=labels)
            summaries[sample].count(status, label, reason_code, n)
        for sample, summary in summaries.items():  # a cell model's roles and white cells
            summary.not_all_like = self.not_all_like(sample)
            if summary.not_all_like != frozenset({BENIGN_LABEL}):
                summary.cells = self.cell_counts(sample)
        return list(summaries.values())

    def capture(self, row_id: int) -> dict[str, Any] | None:
        if not 0 <= row_id <= SQLITE_MAX_INTEGER:
            return None  # no row has that id (SQLite could not even hold it)
        row = self.connection.execute(
            f"SELECT {', '.join(CAPTURE_COLUMNS)} FROM captures WHERE id = ?", (row_id,)
        ).fetchone()
        return dict(row) if row else None

    def session(self, session_id: int) -> dict[str, Any]:
        row = self.connection.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no session {session_id}")
        return dict(row)

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

    def samples(
        self, search: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Samples with their counts and screening call, latest first; `search` matches the id."""
        where, params = _search_clause(search)
        sql = f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM samples{where}"
        sql += " ORDER BY last_captured_at DESC, sample_id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [dict(row) for row in self.connection.execute(sql, params)]

    def sample(self, sample_id: str | None) -> dict[str, Any] | None:
        """One sample's counts and screening call (None or '' for frames without a sample id)."""
        row = self.connection.execute(
            f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM samples WHERE sample_id = ?", (sample_id or "",)
        ).fetchone()
        return dict(row) if row else None

    def reviews(self, sample_id: str | None) -> list[dict[str, Any]]:
        """A sample's reviews (of fields and of the whole sample), oldest first."""
        rows = self.connection.execute(
            f"SELECT {', '.join(REVIEW_COLUMNS)} FROM reviews WHERE sample_id = ? ORDER BY id",
            (sample_id or "",),
        )
        return [dict(row) for row in rows]

    def count_samples(self, search: str | None = None) -> int:
        """How many samples `samples(search)` would list, for paging."""
        where, params = _search_clause(search)
        return int(self.connection.execute(f"SELECT COUNT(*) FROM samples{where}", params).fetchone()[0])

    def reviewed_samples(self, sample_ids: Iterable[str | None]) -> set[str]:
        """Which of these samples a specialist has reviewed as a whole ('' for no sample id)."""
        ids = sorted({sample_id or "" for sample_id in sample_ids})
        if not ids:
            return set()
        rows = self.connection.execute(
            f"SELECT DISTINCT sample_id FROM reviews WHERE capture_id IS NULL "
            f"AND sample_id IN ({', '.join('?' for _ in ids)})",
            ids,
        )
        return {row[0] for row in rows}

    def fields_after_review(self, sample_ids: Iterable[str | None]) -> dict[str, tuple[str, int]]:
        """For each of these samples reviewed as a whole: when it was last reviewed, and how many of
        its fields were captured after that review (a new capture under a reviewed sample id)."""
        ids = sorted({sample_id or "" for sample_id in sample_ids})
        if not ids:
            return {}
        rows = self.connection.execute(
            "SELECT r.sample_id, r.last, (SELECT COUNT(*) FROM captures c "
            "WHERE coalesce(c.sample_id, '') = r.sample_id AND c.captured_at > r.last) "
            "FROM (SELECT sample_id, MAX(reviewed_at) AS last FROM reviews WHERE capture_id IS NULL "
            f"AND sample_id IN ({', '.join('?' for _ in ids)}) GROUP BY sample_id) r",
            ids,
        )
        return {row[0]: (row[1], int(row[2])) for row in rows}

    def captures_page(
        self, sample_id: str | None, *, limit: int, offset: int = 0, flagged: bool = False
    ) -> list[dict[str, Any]]:
        """One page of a sample's fields in capture order; `flagged`: only the fields a specialist
        should look at first (ALL-like, referred or uncertain; the sample row counts them).

        The page's ids are chosen from the sample index alone (it covers status and label), then
        only those rows are read: a deep page of a 10,000-field slide sorts ids, not whole rows.
        """
        page = "SELECT id FROM captures WHERE sample_id IS ?"
        params: list[Any] = [sample_id or None]
        if flagged:
            where, more = flagged_where(self.not_all_like(sample_id or None))
            page += f" AND {where}"
            params += more
        rows = self.connection.execute(
            f"SELECT {', '.join(CAPTURE_COLUMNS)} FROM captures "
            f"WHERE id IN ({page} ORDER BY id LIMIT ? OFFSET ?) ORDER BY id",
            [*params, limit, offset],
        )
        return [dict(row) for row in rows]

    def captures_between(self, start: str, end: str) -> Iterator[dict[str, Any]]:
        """Capture rows with `start <= captured_at < end` (ISO 8601 UTC, as recorded), in order."""
        rows = self.connection.execute(
            f"SELECT {', '.join(CAPTURE_COLUMNS)} FROM captures WHERE captured_at >= ? AND captured_at < ? "
            "ORDER BY id",
            (start, end),
        )
        for row in rows:
            yield dict(row)

    def sessions_of_sample(self, sample_id: str | None) -> list[dict[str, Any]]:
        """The capture sessions that recorded a sample's fields (which model, which source), oldest first."""
        rows = self.connection.execute(
            "SELECT * FROM sessions WHERE sample_id IS ? ORDER BY id", (sample_id or None,)
        )
        return [dict(row) for row in rows]


def flagged_where(not_all_like: Iterable[str]) -> tuple[str, list[Any]]:
    """The one test of "is this field flagged" (a specialist looks at it first), as SQL over a capture
    row's status and label: a FLAGGED status, or classified with a label that is not one of
    `not_all_like` (the sample's roles: ResultsStore.not_all_like), exactly as FieldCounts.of counts a
    field ALL-like for the slide call, so the flagged view shows what `flagged_fields` counts."""
    statuses = sorted(FLAGGED)
    labels = sorted(not_all_like)
    where = (
        f"(status IN ({', '.join('?' for _ in statuses)}) OR (status = ? AND (label IS NULL "
        f"OR label NOT IN ({', '.join('?' for _ in labels)}))))"
    )
    return where, [*statuses, Status.CLASSIFIED, *labels]


def _cell_row(row: sqlite3.Row) -> dict[str, Any]:
    return {**dict(row), "box": [row["x0"], row["y0"], row["x1"], row["y1"]]}


def _rows_of(sample_id: str | None, session_id: int | None) -> tuple[str, list[Any]]:
    """The WHERE clause (or none) that picks the capture rows of a sample, of a session, or both."""
    where, params = [], []
    if sample_id is not None:
        where.append("sample_id IS ?")
        params.append(sample_id)
    if session_id is not None:
        where.append("session_id = ?")
        params.append(session_id)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _search_clause(search: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause matching sample ids that contain `search` literally (% and _ are not wildcards)."""
    if not search:
        return "", []
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return " WHERE sample_id LIKE ? ESCAPE '\\'", [f"%{escaped}%"]


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)
