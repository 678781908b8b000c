"""The results database's schema, version by version, and the migrations that bring a file up to date.

A new database is made by running every migration in order, so the upgrade path of an existing clinic
database is the path every test database takes. A shipped version is never edited: a change is a new
version with its migration. edge_all.results.store opens the file and calls `migrate`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from edge_all.results.errors import StoreError
from edge_all.triage.screening import ScreeningRule

# Recount one sample and store its call, inside the caller's transaction (ResultsStore._refresh_sample).
RefreshSample = Callable[[str | None, ScreeningRule, list[str]], object]

SCHEMA_VERSION = 8

# Version 1 as it shipped; a new database is made by running every migration in order, so the
# upgrade path of an existing clinic database is the path every test database takes.
_SCHEMA_V1 = """
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

# Version 2: referral (a 'referred' status and the unfamiliarity score), heat maps, the screening
# call per sample (kept up to date with every frame), the specialist's reviews beside the model's
# results (append-only; captures can no longer be changed), the camera settings of a session, and
# a session id that stays unique when the database is replaced (it names saved files).
_CAPTURES_V2 = """
CREATE TABLE captures_v2 (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    captured_at TEXT NOT NULL,       -- ISO 8601, UTC
    sample_id TEXT,
    source TEXT NOT NULL,
    frame_index INTEGER NOT NULL,
    origin TEXT NOT NULL,            -- where the frame came from (file path, video#frame)
    image_path TEXT,                 -- the saved frame (or the folder source's file)
    image_sha256 TEXT,
    status TEXT NOT NULL CHECK (status IN ('classified', 'uncertain', 'referred', 'rejected', 'error')),
    label TEXT,                      -- top label (also for uncertain and referred frames)
    confidence REAL,
    probabilities TEXT,              -- JSON object label -> probability
    brightness REAL,
    contrast REAL,
    clipped REAL,
    stained REAL,
    focus REAL,
    reason TEXT,                     -- why referred or rejected, or the error
    bundle_sha256 TEXT NOT NULL,
    inference_ms REAL,
    unfamiliarity REAL,              -- referral score: 1.0 is the bundle's threshold; NULL: no detector
    heatmap_path TEXT                -- class activation map saved beside the frame, if asked for
);
INSERT INTO captures_v2 (id, session_id, captured_at, sample_id, source, frame_index, origin, image_path,
    image_sha256, status, label, confidence, probabilities, brightness, contrast, clipped, stained,
    focus, reason, bundle_sha256, inference_ms)
SELECT id, session_id, captured_at, sample_id, source, frame_index, origin, image_path, image_sha256,
    status, label, confidence, probabilities, brightness, contrast, clipped, stained, focus, reason,
    bundle_sha256, inference_ms FROM captures;
DROP TABLE captures;
ALTER TABLE captures_v2 RENAME TO captures;
CREATE INDEX captures_by_sample ON captures(sample_id, status, label, captured_at);  -- covers the call
CREATE INDEX captures_by_session ON captures(session_id);
CREATE TRIGGER captures_never_change BEFORE UPDATE ON captures
BEGIN SELECT RAISE(ABORT, 'a recorded result is never changed (reviews are stored beside it)'); END;
CREATE TRIGGER captures_never_deleted BEFORE DELETE ON captures
BEGIN SELECT RAISE(ABORT, 'a recorded result is never deleted'); END;

ALTER TABLE sessions ADD COLUMN uid TEXT;   -- random hex, unique for ever
UPDATE sessions SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX sessions_by_uid ON sessions(uid);
ALTER TABLE sessions ADD COLUMN unfamiliarity_threshold REAL;  -- NULL: the model has no detector
ALTER TABLE sessions ADD COLUMN screening_rule TEXT;           -- JSON ScreeningRule
ALTER TABLE sessions ADD COLUMN camera_settings TEXT;          -- JSON, what the camera was locked to

CREATE TABLE samples (
    sample_id TEXT PRIMARY KEY,      -- '' for frames recorded without a sample id
    first_captured_at TEXT NOT NULL,
    last_captured_at TEXT NOT NULL,
    fields INTEGER NOT NULL,
    good INTEGER NOT NULL,
    all_like INTEGER NOT NULL,
    uncertain INTEGER NOT NULL,
    referred INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    verdict TEXT NOT NULL,           -- edge_all.triage.screening: refer, no ALL-like cells, inconclusive
    call TEXT NOT NULL               -- the call in words, with its counts
);
CREATE INDEX samples_by_last_capture ON samples(last_captured_at);

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    sample_id TEXT NOT NULL,         -- '' for frames recorded without a sample id
    capture_id INTEGER REFERENCES captures(id),  -- NULL: a review of the whole sample
    reviewed_at TEXT NOT NULL,       -- ISO 8601, UTC
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL,          -- a field: the class the specialist sees; a sample: the verdict
    comment TEXT
);
CREATE INDEX reviews_by_sample ON reviews(sample_id);
CREATE TRIGGER reviews_never_change BEFORE UPDATE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only: add a new review instead'); END;
CREATE TRIGGER reviews_never_deleted BEFORE DELETE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
"""

# Version 3: the physical scale each field was read at and where it came from (issue 22), the glass
# level the exposure is judged on, and the scale a session was given for its camera and objective.
# Only columns added, so a version 2 database keeps every row; its fields read NULL (no scale).
_MIGRATION_V3 = """
ALTER TABLE captures ADD COLUMN um_per_px REAL;      -- the scale used; NULL: unknown or not looked for
ALTER TABLE captures ADD COLUMN scale_source TEXT;   -- given, site, estimated, bundle-free; NULL: none
ALTER TABLE captures ADD COLUMN glass REAL;          -- luma of the bare glass (the lamp's level)
ALTER TABLE sessions ADD COLUMN um_per_px REAL;      -- the scale given for the camera and objective
"""


# Version 4: the white cells of fields read cell by cell (a format-3 bundle, issue 22): one row per
# cell with its box in the frame's pixels; a session's label roles (which labels are ALL-like); a
# sample's cell counts. New tables and columns only: every version 3 row is kept, a whole-field
# session's roles read NULL (its labels other than Benign are ALL-like, as before).
_MIGRATION_V4 = """
CREATE TABLE cells (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    x0 INTEGER NOT NULL,             -- the box in the pixels of the frame as stored (x1, y1 exclusive)
    y0 INTEGER NOT NULL,
    x1 INTEGER NOT NULL,
    y1 INTEGER NOT NULL,
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('all-like', 'referred', 'cleared', 'dropped')),
    reason TEXT,
    unfamiliarity REAL
);
CREATE INDEX cells_by_capture ON cells(capture_id);
CREATE TRIGGER cells_never_change BEFORE UPDATE ON cells
BEGIN SELECT RAISE(ABORT, 'a recorded result is never changed (reviews are stored beside it)'); END;
CREATE TRIGGER cells_never_deleted BEFORE DELETE ON cells
BEGIN SELECT RAISE(ABORT, 'a recorded result is never deleted'); END;
ALTER TABLE sessions ADD COLUMN label_roles TEXT;   -- JSON label -> role; NULL: a whole-field model
ALTER TABLE samples ADD COLUMN fields_with_cells INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN cells_all_like INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN cells_referred INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN cells_cleared INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN cells_dropped INTEGER NOT NULL DEFAULT 0;
"""


# Version 5: a field number unique within a sample (1, 2, 3, ... across all of the sample's sessions).
# frame_index is the source's own count and restarts with every session, so two sessions of one slide
# showed #0-#2 twice. The number is given at insert (ResultsStore.add); existing rows are numbered in
# the order they were recorded. Nothing else changes: frame_index and origin stay as recorded.
_CAPTURES_V5 = """
ALTER TABLE captures ADD COLUMN field_number INTEGER;  -- 1, 2, ... within the sample
"""
_CAPTURES_V5_AFTER = """
CREATE UNIQUE INDEX captures_field_number ON captures(coalesce(sample_id, ''), field_number);
"""
# Version 6: how a video ended (issue 26): the frames its container said it had and the frames that
# could be decoded, and whether it ended before its count (a file cut short). Columns only: every
# earlier session reads NULL (not a video, or recorded before) and 0 (not known to have ended early).
_MIGRATION_V6 = """
ALTER TABLE sessions ADD COLUMN frames_expected INTEGER;  -- the container's frame count; NULL: none
ALTER TABLE sessions ADD COLUMN frames_read INTEGER;      -- frames decoded; NULL: not a video
ALTER TABLE sessions ADD COLUMN ended_early INTEGER NOT NULL DEFAULT 0;  -- 1: fewer read than expected
"""
# Version 7: a specialist's word on one white cell (issue 27, the cell gallery), beside the model's cell
# (never over it), append-only like the field reviews. A new table only: every version 6 row is kept.
_MIGRATION_V7 = """
CREATE TABLE cell_reviews (
    id INTEGER PRIMARY KEY,
    cell_id INTEGER NOT NULL REFERENCES cells(id),
    reviewed_at TEXT NOT NULL,       -- ISO 8601, UTC
    reviewer TEXT NOT NULL,          -- the account ("Dr Ada Okafor (ada)"), or the name typed
    label TEXT NOT NULL,             -- what the specialist sees: a class, not a white cell, not assessable
    comment TEXT
);
CREATE INDEX cell_reviews_by_cell ON cell_reviews(cell_id);
CREATE TRIGGER cell_reviews_never_change BEFORE UPDATE ON cell_reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only: add a new review instead'); END;
CREATE TRIGGER cell_reviews_never_deleted BEFORE DELETE ON cell_reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
"""
# Version 8: the site profile a session read with (issue 23): the sha256 of the site.json that gave
# its scale, stain reference and quality limits, so every result names the profile it was read with;
# and a field's drift warning (it does not look like the site's commissioning fields). Columns only:
# every earlier session and field reads NULL (not commissioned, or recorded before).
_MIGRATION_V8 = """
ALTER TABLE sessions ADD COLUMN site_sha256 TEXT;  -- sha256 of site.json; NULL: not commissioned
ALTER TABLE captures ADD COLUMN drift TEXT;        -- the drift warning; NULL: none (or no site)
"""
_NEVER_CHANGE = (
    "CREATE TRIGGER captures_never_change BEFORE UPDATE ON captures "
    "BEGIN SELECT RAISE(ABORT, 'a recorded result is never changed (reviews are stored beside it)'); END"
)


def migrate(connection: sqlite3.Connection, path: Path, create: bool, refresh_sample: RefreshSample) -> None:
    """Bring the database at `path` to SCHEMA_VERSION, creating it when it is new and `create` allows."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" not in tables:
        if tables:
            raise StoreError(f"{path}: an SQLite file, but not an edge-all results database")
        if not create:
            raise StoreError(f"{path}: empty database (no edge-all results yet)")
        # One transaction: a database never has tables without the version that describes them.
        connection.executescript(
            "BEGIN; CREATE TABLE schema_version (version INTEGER NOT NULL);"
            f"{_SCHEMA_V1} INSERT INTO schema_version (version) VALUES (1); COMMIT;"
        )
    version = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    if version == 1:
        _upgrade_to_v2(connection, refresh_sample)
        version = 2
    if version == 2:
        _upgrade_to_v3(connection)
        version = 3
    if version == 3:
        _upgrade_to_v4(connection)
        version = 4
    if version == 4:
        _upgrade_to_v5(connection)
        version = 5
    if version == 5:
        _add_only(connection, _MIGRATION_V6, 6)
        version = 6
    if version == 6:
        _add_only(connection, _MIGRATION_V7, 7)
        version = 7
    if version == 7:
        _add_only(connection, _MIGRATION_V8, 8)
    elif version != SCHEMA_VERSION:
        raise StoreError(
            f"{path}: results schema version {version}, this edge-all reads version {SCHEMA_VERSION}"
        )


def _upgrade_to_v2(connection: sqlite3.Connection, refresh_sample: RefreshSample) -> None:
    """Version 1 -> 2 in one transaction; an interrupted upgrade leaves version 1 as it was."""
    # Rebuilding `captures` (its status CHECK gains 'referred') needs foreign keys off, which
    # SQLite only allows outside a transaction.
    connection.execute("PRAGMA foreign_keys=OFF")
    try:
        connection.executescript(f"BEGIN; {_CAPTURES_V2}")
        rule = json.dumps(ScreeningRule().to_dict())
        connection.execute("UPDATE sessions SET screening_rule = ?", (rule,))
        for (sample,) in connection.execute("SELECT DISTINCT sample_id FROM captures").fetchall():
            refresh_sample(sample, ScreeningRule(), _labels_of_sample(connection, sample))
        connection.execute("UPDATE schema_version SET version = 2")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.execute("PRAGMA foreign_keys=ON")


def _upgrade_to_v3(connection: sqlite3.Connection) -> None:
    """Version 2 -> 3: new columns only, every row kept as it was."""
    _add_only(connection, _MIGRATION_V3, 3)


def _upgrade_to_v4(connection: sqlite3.Connection) -> None:
    """Version 3 -> 4: a new table and columns only, every row kept as it was."""
    _add_only(connection, _MIGRATION_V4, 4)


def _add_only(connection: sqlite3.Connection, script: str, version: int) -> None:
    """Run a migration that only adds tables and columns, and record `version`, in one transaction."""
    try:
        connection.executescript(f"BEGIN; {script} UPDATE schema_version SET version = {version}; COMMIT;")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _upgrade_to_v5(connection: sqlite3.Connection) -> None:
    """Version 4 -> 5 in one transaction: every field gets its number within its sample, in the order
    the fields were recorded (duplicated frame indexes of a reused sample id become distinct numbers)."""
    try:
        connection.execute("BEGIN")
        connection.execute(_CAPTURES_V5)
        # The one UPDATE a recorded result ever sees: adding its number, inside the migration.
        connection.execute("DROP TRIGGER captures_never_change")
        counts: dict[str, int] = {}
        numbers = []
        rows = connection.execute("SELECT id, coalesce(sample_id, '') FROM captures ORDER BY id")
        for row_id, sample in rows:
            counts[sample] = counts.get(sample, 0) + 1
            numbers.append((counts[sample], row_id))
        connection.executemany("UPDATE captures SET field_number = ? WHERE id = ?", numbers)
        connection.execute(_NEVER_CHANGE)
        connection.execute(_CAPTURES_V5_AFTER)
        connection.execute("UPDATE schema_version SET version = 5")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _labels_of_sample(connection: sqlite3.Connection, sample_id: str | None) -> list[str]:
    """The labels of the session that recorded a sample's latest field."""
    row = connection.execute(
        "SELECT s.labels FROM captures c JOIN sessions s ON s.id = c.session_id "
        "WHERE c.sample_id IS ? ORDER BY c.id DESC LIMIT 1",
        (sample_id,),
    ).fetchone()
    return json.loads(row[0]) if row else []
