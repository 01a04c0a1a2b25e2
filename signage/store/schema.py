"""The database schema as numbered migrations, applied in order and recorded in `schema_migrations`.

Every logged table is keyed by a globally unique id and carries `seq`: a number the writer raises on every write
of the row (insert or update). An uplink sink keeps its own high-water mark of `seq` per table in
`outbox_cursors`, so it resumes where it stopped and also re-sends rows that were updated (closed) since.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from signage.clock import iso_utc
from signage.records import (
    DecisionRecord,
    EventRecord,
    ExposureRecord,
    PlayRecord,
    SessionRecord,
    ViewerRecord,
)

# Column definitions per logged table, in insert order. `id` is the primary key; `seq` is set by the writer.
TABLE_COLUMNS: Mapping[str, tuple[tuple[str, str], ...]] = {
    SessionRecord.TABLE: (
        ("id", "TEXT PRIMARY KEY"),
        ("screen_id", "TEXT NOT NULL"),
        ("started_utc", "TEXT NOT NULL"),
        ("started_mono", "REAL NOT NULL"),
        ("mode", "TEXT NOT NULL"),
        ("software_version", "TEXT NOT NULL"),
        ("config_digest", "TEXT NOT NULL"),
        ("last_seen_utc", "TEXT NOT NULL"),
        ("last_seen_mono", "REAL NOT NULL"),
        ("ended_utc", "TEXT"),
        ("status", "TEXT NOT NULL"),
    ),
    DecisionRecord.TABLE: (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("t_utc", "TEXT NOT NULL"),
        ("t_mono", "REAL NOT NULL"),
        ("context", "TEXT NOT NULL"),
        ("eligible", "TEXT NOT NULL"),
        ("item_id", "TEXT NOT NULL"),
        ("propensity", "REAL NOT NULL"),
        ("policy", "TEXT NOT NULL"),
        ("policy_version", "TEXT NOT NULL"),
        ("reason", "TEXT NOT NULL"),
        ("arm", "TEXT NOT NULL"),
        ("trigger", "TEXT NOT NULL"),
        ("learner_eligible", "TEXT"),
    ),
    PlayRecord.TABLE: (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("decision_id", "TEXT NOT NULL"),
        ("item_id", "TEXT NOT NULL"),
        ("started_utc", "TEXT NOT NULL"),
        ("started_mono", "REAL NOT NULL"),
        ("ended_utc", "TEXT"),
        ("ended_mono", "REAL"),
        ("measured", "INTEGER NOT NULL"),
        ("status", "TEXT NOT NULL"),
        ("started_frame", "INTEGER"),
        ("ended_frame", "INTEGER"),
        ("fallback", "TEXT NOT NULL DEFAULT ''"),
    ),
    ViewerRecord.TABLE: (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("first_seen_utc", "TEXT NOT NULL"),
        ("last_seen_utc", "TEXT NOT NULL"),
        ("dwell_s", "REAL NOT NULL"),
        ("attention_s", "REAL NOT NULL"),
        ("age_band", "TEXT NOT NULL"),
        ("age_confidence", "REAL NOT NULL"),
        ("gender", "TEXT NOT NULL"),
        ("gender_confidence", "REAL NOT NULL"),
        ("mood", "TEXT NOT NULL"),
        ("mood_confidence", "REAL NOT NULL"),
        ("returning", "INTEGER NOT NULL"),
        ("group_size", "INTEGER NOT NULL"),
        ("is_passer_by", "INTEGER NOT NULL"),
        ("is_watcher", "INTEGER NOT NULL"),
        ("model_versions", "TEXT NOT NULL"),
        ("status", "TEXT NOT NULL"),
        ("direction", "TEXT NOT NULL DEFAULT 'unknown'"),
    ),
    ExposureRecord.TABLE: (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("viewer_id", "TEXT NOT NULL"),
        ("play_id", "TEXT NOT NULL"),
        ("decision_id", "TEXT NOT NULL"),
        ("item_id", "TEXT NOT NULL"),
        ("started_utc", "TEXT NOT NULL"),
        ("ended_utc", "TEXT"),
        ("dwell_s", "REAL NOT NULL"),
        ("attention_s", "REAL NOT NULL"),
        ("held", "INTEGER NOT NULL"),
        ("reward", "REAL"),
        ("status", "TEXT NOT NULL"),
        ("attention_share_before", "REAL"),
        ("attention_share_after", "REAL"),
        ("mood_before", "TEXT"),
        ("mood_after", "TEXT"),
    ),
    EventRecord.TABLE: (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"),
        ("phase", "TEXT NOT NULL"),
        ("subject_id", "TEXT NOT NULL"),
        ("t_utc", "TEXT NOT NULL"),
        ("t_mono", "REAL NOT NULL"),
        ("payload", "TEXT NOT NULL"),
    ),
}


# Columns added after the first schema: (table, column) → the migration that added it. Migration 1 creates the
# tables without them, so an old database and a new one end with the same columns.
ADDED_IN: Mapping[tuple[str, str], int] = {
    (PlayRecord.TABLE, "started_frame"): 2,
    (PlayRecord.TABLE, "ended_frame"): 2,
    (PlayRecord.TABLE, "fallback"): 2,
    (ExposureRecord.TABLE, "attention_share_before"): 3,
    (ExposureRecord.TABLE, "attention_share_after"): 3,
    (ExposureRecord.TABLE, "mood_before"): 3,
    (ExposureRecord.TABLE, "mood_after"): 3,
    (ViewerRecord.TABLE, "direction"): 4,
    (DecisionRecord.TABLE, "learner_eligible"): 5,
}


def _columns_at(name: str, version: int) -> list[tuple[str, str]]:
    return [(col, kind) for col, kind in TABLE_COLUMNS[name] if ADDED_IN.get((name, col), 1) <= version]


def _create_table(name: str) -> str:
    columns = ",\n  ".join(f'"{col}" {kind}' for col, kind in _columns_at(name, 1))
    return f"CREATE TABLE {name} (\n  {columns},\n  seq INTEGER NOT NULL\n)"


def _added(version: int) -> tuple[str, ...]:
    return tuple(
        f'ALTER TABLE {table} ADD COLUMN "{col}" {kind}'
        for table, columns in TABLE_COLUMNS.items()
        for col, kind in columns
        if ADDED_IN.get((table, col)) == version
    )


def _initial() -> list[str]:
    statements = [_create_table(name) for name in TABLE_COLUMNS]
    statements += [f"CREATE INDEX idx_{name}_seq ON {name}(seq)" for name in TABLE_COLUMNS]
    statements += [
        "CREATE INDEX idx_decisions_session ON decisions(session_id)",
        "CREATE INDEX idx_plays_session ON plays(session_id, status)",
        "CREATE INDEX idx_viewers_session ON viewers(session_id, status)",
        "CREATE INDEX idx_exposures_play ON exposures(play_id)",
        "CREATE INDEX idx_exposures_session ON exposures(session_id, status)",
        """CREATE TABLE outbox_cursors (
  sink TEXT NOT NULL,
  table_name TEXT NOT NULL,
  last_seq INTEGER NOT NULL,
  updated_utc TEXT NOT NULL,
  PRIMARY KEY (sink, table_name)
)""",
    ]
    return statements


# (version, name, statements). Append new migrations; never edit one that has shipped.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "initial schema", tuple(_initial())),
    (2, "plays: presented frame numbers and fallback reason (proof of play)", _added(2)),
    (3, "exposures: reaction to content (attention share and mood before and after the item started)", _added(3)),
    (4, "viewers: direction of movement over the visit", _added(4)),
    (5, "decisions: the learner arm's eligible set (off-policy evaluation)", _added(5)),
)


def open_database(path: str | Path, *, busy_timeout_s: float = 1.0) -> sqlite_utils.Database:
    """Open (or create) the database in WAL mode with explicit transactions.

    synchronous=NORMAL in WAL mode keeps every committed transaction when the process is killed; only a power cut
    can lose the last few commits, which the uplink's resend covers once the rows have left the screen.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the connection is in autocommit mode)."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def schema_version(db: sqlite_utils.Database) -> int:
    if "schema_migrations" not in db.table_names():
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite_utils.Database, now_utc: str | None = None) -> list[int]:
    """Apply every migration newer than the database, each in its own transaction; return the versions applied."""
    stamp = now_utc or iso_utc(datetime.now(UTC))
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_utc TEXT NOT NULL)"
    )
    current = schema_version(db)
    latest = MIGRATIONS[-1][0]
    if current > latest:
        raise RuntimeError(
            f"database schema version {current} is newer than this software knows ({latest}); upgrade signage"
        )
    applied = []
    for version, name, statements in MIGRATIONS:
        if version <= current:
            continue
        with transaction(db):
            for statement in statements:
                db.conn.execute(statement)
            db.conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_utc) VALUES (?, ?, ?)",
                (version, name, stamp),
            )
        applied.append(version)
    return applied
