"""The local store: migrations, WAL, upserts and seq, a writer killed mid-batch, and databases that refuse writes."""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signage.clock import iso_utc
from signage.config import StoreConfig
from signage.ids import new_id
from signage.records import EventKind, EventRecord, Phase, PlayRecord, SessionRecord, Status
from signage.store import StoreWriter, migrate, open_database
from signage.store.schema import MIGRATIONS, TABLE_COLUMNS

T0 = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
# Short waits everywhere: the failure tests must notice a refusal and recover within a fraction of a second.
FAST = StoreConfig(flush_interval_s=0.01, retry_initial_s=0.02, retry_max_s=0.1, busy_timeout_s=0.05)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def event(n: int, session_id: str = "s1") -> EventRecord:
    return EventRecord(new_id(), session_id, EventKind.VIEWER, Phase.UPDATE, "v1", T0, 100.0 + n, {"n": n})


def rows(path: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "signage.db"


@pytest.fixture
def started(db_path: Path) -> Iterator[StoreWriter]:
    writer = StoreWriter(FAST, path=db_path).start()
    assert writer.ready.wait(10), writer.health()
    yield writer
    writer.close()


# -- schema ----------------------------------------------------------------------------------------------------------


def test_fresh_database_reaches_latest_version_once(db_path: Path) -> None:
    db = open_database(db_path)
    try:
        latest = MIGRATIONS[-1][0]
        assert migrate(db, now_utc="2024-05-01T12:00:00.000000Z") == [v for v, _, _ in MIGRATIONS]
        assert migrate(db) == []
        assert db.execute("SELECT version, name, applied_utc FROM schema_migrations ORDER BY version").fetchall() == [
            (v, name, "2024-05-01T12:00:00.000000Z") for v, name, _ in MIGRATIONS
        ]
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == latest
        tables = set(db.table_names())
        assert {*TABLE_COLUMNS, "outbox_cursors", "schema_migrations"} <= tables
        for table, columns in TABLE_COLUMNS.items():
            assert sorted(c.name for c in db[table].columns) == sorted([name for name, _ in columns] + ["seq"])
    finally:
        db.close()


def test_newer_database_is_refused_with_a_clear_error(db_path: Path) -> None:
    db = open_database(db_path)
    migrate(db)
    db.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', '2030-01-01T00:00:00.000000Z')")
    with pytest.raises(RuntimeError, match=r"schema version 999 is newer than this software knows \(\d+\)"):
        migrate(db)
    db.close()

    # The writer reports it as its health and keeps the engine running instead of dying on its thread.
    writer = StoreWriter(FAST, path=db_path).start()
    writer.write(event(0))
    assert wait_for(lambda: not writer.health().ok)
    error = writer.health().error or ""
    assert "newer than this software" in error
    assert str(db_path) in error
    assert not writer.ready.is_set()
    writer.close(timeout=5)


def test_wal_mode_is_on(started: StoreWriter, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


# -- writing ---------------------------------------------------------------------------------------------------------


def test_open_row_rewritten_closed_leaves_one_closed_row(started: StoreWriter, db_path: Path) -> None:
    play = PlayRecord("p1", "s1", "d1", "a", T0, 10.0)
    started.write(play)
    assert started.flush() is True
    (first,) = rows(db_path, "SELECT * FROM plays")
    assert first["status"] == "open"
    assert first["ended_utc"] is None

    closed = PlayRecord("p1", "s1", "d1", "a", T0, 10.0, T0 + timedelta(seconds=8), 18.0, status=Status.CLOSED)
    started.write(closed)
    assert started.flush() is True
    (second,) = rows(db_path, "SELECT * FROM plays")
    assert second["status"] == "closed"
    assert second["seq"] > first["seq"]
    assert PlayRecord.from_row(second) == closed


def test_seq_strictly_increases_with_every_write(started: StoreWriter, db_path: Path) -> None:
    seen: list[int] = []
    for i in range(5):
        started.write(PlayRecord("p1", "s1", "d1", "a", T0, 10.0, T0, 10.0 + i, status=Status.CLOSED))
        started.write(event(i))
        assert started.flush() is True
        seen.append(rows(db_path, "SELECT seq FROM plays WHERE id = 'p1'")[0]["seq"])
    assert seen == sorted(set(seen))
    event_seqs = [r["seq"] for r in rows(db_path, "SELECT seq FROM events ORDER BY json_extract(payload, '$.n')")]
    assert event_seqs == sorted(set(event_seqs))
    # Across tables seq is one counter: no two rows share a value.
    all_seqs = [r["seq"] for t in TABLE_COLUMNS for r in rows(db_path, f"SELECT seq FROM {t}")]
    assert len(all_seqs) == len(set(all_seqs))


def test_on_commit_reports_the_ids_in_order(db_path: Path) -> None:
    committed: list[str] = []
    records = [event(i) for i in range(300)]
    with StoreWriter(FAST, path=db_path, on_commit=committed.extend) as writer:
        for record in records:
            writer.write(record)
        assert writer.flush() is True
        assert writer.health().committed_rows == 300
    assert committed == [r.event_id for r in records]


# -- a writer killed with SIGKILL in the middle of a batch -----------------------------------------------------------

CHILD_WRITER = """
import sys, time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
import signage.store.writer
from signage.config import StoreConfig
from signage.ids import new_id
from signage.records import *
from signage.store import StoreWriter

# From the fourth batch on, hold each batch's transaction open after its inserts and say so ("B" and the row count):
# the parent kills us there, in the middle of a batch, with its rows written to SQLite but not committed.
real_transaction = signage.store.writer.transaction
batches = 0
@contextmanager
def transaction(db):
    global batches
    with real_transaction(db):
        before = db.conn.total_changes
        yield
        batches += 1
        if batches > 3:
            print("B", db.conn.total_changes - before, flush=True)
            time.sleep(5)
signage.store.writer.transaction = transaction

t0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
def at(s): return t0 + timedelta(seconds=s)
store = StoreWriter(
    StoreConfig(batch_max_rows=3000, flush_interval_s=0.01), path=sys.argv[1],
    on_commit=lambda ids: print("C", *ids, flush=True),
).start()
sid = new_id()
# The heartbeat says the session was last seen 30 s after it started (monotonic 100 -> 130).
store.write(SessionRecord(sid, "screen-1", t0, 100.0, "demo", "test", "digest", at(30), 130.0))
store.write(PlayRecord("p-open", sid, "d1", "a", at(10), 110.0))
store.write(PlayRecord("p-late", sid, "d2", "b", at(40), 140.0))  # opened after the last heartbeat
store.write(PlayRecord("p-closed", sid, "d0", "c", at(1), 101.0, at(5), 105.0, status=Status.CLOSED))
store.write(ViewerRecord("v-open", sid, at(2), at(20), 18.0, 6.0, AgeBand.ADULT, 0.9, Gender.MALE, 0.8,
                         Mood.NEUTRAL, 0.7, False, 1, True, True, "m1"))
store.write(ExposureRecord("e-open", sid, "v-open", "p-open", "d1", "a", at(10), None, 3.0, 1.0, False))
print("S", sid, flush=True)
n = 0
while True:  # a steady stream of events until the parent kills us
    for _ in range(1000):
        store.write(EventRecord(new_id(), sid, EventKind.VIEWER, Phase.UPDATE, "v-open", at(20), 120.0,
                                {"n": n, "state": "watcher", "yaw": 12.5}))
        n += 1
    # An engine writes between frames, never in a tight loop; a producer that never sleeps starves the writer thread
    # of the GIL (sqlite3 gives it back at every row and waits a switch interval to get it again).
    time.sleep(0.002)
"""


def _lines(stream: Any, out: queue.Queue[str | None]) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def test_sigkill_mid_batch_loses_no_committed_row_and_open_rows_are_closed(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITER, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(child.stdout, lines), daemon=True).start()
    committed: list[str] = []
    session_id = ""
    in_flight = 0
    try:
        deadline = time.monotonic() + 30
        while not in_flight:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"the child writer ended early: {child.stderr.read() if child.stderr else ''}"
            kind, *values = line.split()
            if kind == "S":
                session_id = values[0]
            elif kind == "C":
                committed.extend(values)
            elif kind == "B":
                in_flight = int(values[0])
        assert child.poll() is None, "the child must still be writing when it is killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert lines.get(timeout=10) is None  # nothing was committed after the batch that was cut
    assert in_flight > 0
    assert len(committed) >= 6 + 3  # the first rows and three whole batches

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {r[0] for t in TABLE_COLUMNS for r in conn.execute(f"SELECT id FROM {t}")}
    missing = [i for i in committed if i not in stored]
    assert not missing, f"{len(missing)} committed rows lost, e.g. {missing[:3]}"
    # ... and not one row of the batch that was cut: a batch lands whole or not at all.
    assert len(stored) == len(committed)
    # Events land in the order they were written: the stored ones are a prefix of the stream, no gaps.
    numbers = sorted(r[0] for r in conn.execute("SELECT json_extract(payload, '$.n') FROM events"))
    assert numbers == list(range(len(committed) - 6))  # six non-event rows were written first
    max_seq = conn.execute(
        "SELECT MAX(m) FROM (" + " UNION ALL ".join(f"SELECT MAX(seq) AS m FROM {t}" for t in TABLE_COLUMNS) + ")"
    ).fetchone()[0]
    conn.close()

    # The next start closes what the killed session left open, at its last heartbeat.
    with StoreWriter(FAST, path=db_path) as writer:
        assert writer.ready.wait(10), writer.health()
        assert writer.recovery is not None
        assert writer.recovery.closed == {"plays": 2, "exposures": 1, "viewers": 1, "sessions": 1}
        assert writer.recovery.total == 5
    heartbeat = iso_utc(datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC))
    plays = {r["id"]: r for r in rows(db_path, "SELECT * FROM plays")}
    assert plays["p-open"]["status"] == "recovered"
    assert (plays["p-open"]["ended_utc"], plays["p-open"]["ended_mono"]) == (heartbeat, 130.0)
    # A play opened after the last heartbeat is closed at its own start, never before it.
    assert plays["p-late"]["status"] == "recovered"
    assert (plays["p-late"]["ended_utc"], plays["p-late"]["ended_mono"]) == (plays["p-late"]["started_utc"], 140.0)
    assert plays["p-closed"]["status"] == "closed"
    assert plays["p-closed"]["ended_mono"] == 105.0
    for play in plays.values():
        assert play["ended_utc"] >= play["started_utc"]
        assert play["ended_mono"] >= play["started_mono"]
        assert PlayRecord.from_row(play).duration_s is not None
    (session,) = rows(db_path, "SELECT * FROM sessions")
    assert session["id"] == session_id
    assert (session["status"], session["ended_utc"]) == ("recovered", heartbeat)
    assert SessionRecord.from_row(session).status is Status.RECOVERED
    (exposure,) = rows(db_path, "SELECT * FROM exposures")
    assert (exposure["status"], exposure["ended_utc"]) == ("recovered", heartbeat)
    (viewer,) = rows(db_path, "SELECT * FROM viewers")
    assert viewer["status"] == "recovered"
    recovered_seqs = [r["seq"] for r in [*plays.values(), session, exposure, viewer] if r["status"] == "recovered"]
    assert min(recovered_seqs) > max_seq  # the uplink re-sends the rows it closed

    # Nothing is left open, so a further start closes nothing.
    with StoreWriter(FAST, path=db_path) as writer:
        assert writer.ready.wait(10)
        assert writer.recovery is not None
        assert writer.recovery.total == 0


# -- databases that refuse writes ------------------------------------------------------------------------------------


def test_locked_database_keeps_accepting_writes_and_recovers(db_path: Path) -> None:
    config = FAST.model_copy(update={"busy_timeout_s": 0.3})
    writer = StoreWriter(config, path=db_path).start()
    assert writer.ready.wait(10), writer.health()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        records = [event(i) for i in range(2000)]
        took_ns = []
        for record in records:
            start = time.perf_counter_ns()
            writer.write(record)
            took_ns.append(time.perf_counter_ns() - start)
            if len(took_ns) % 200 == 0:
                time.sleep(0.01)  # spread the writes so several land while the writer is retrying
        took_ns.sort()
        # A write that waited on SQLite would take the busy timeout (300 ms); these only queue.
        assert took_ns[len(took_ns) * 99 // 100] < 5_000_000
        assert took_ns[-1] < 50_000_000
        assert wait_for(lambda: not writer.health().ok)
        health = writer.health()
        assert health.error is not None
        assert "locked" in health.error
        assert str(db_path) in health.error
        assert health.backlog_rows == 2000
        assert health.failed_attempts >= 1
        assert writer.flush(timeout=0.2) is False
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert writer.flush(timeout=10) is True
    health = writer.health()
    assert health.ok
    assert health.error is None
    assert health.backlog_rows == 0
    assert health.committed_rows == 2000
    assert rows(db_path, "SELECT COUNT(*) AS n FROM events")[0]["n"] == 2000
    assert writer.close() is True


CHILD_READ_ONLY = """
import json, os, sys, time
from dataclasses import asdict
from datetime import UTC, datetime
from signage.config import StoreConfig
from signage.ids import new_id
from signage.records import EventKind, EventRecord, Phase
from signage.store import StoreWriter

if os.geteuid() == 0:  # root ignores file modes: become an ordinary user first
    os.setgid(65534)
    os.setuid(65534)
config = StoreConfig(flush_interval_s=0.01, retry_initial_s=0.02, retry_max_s=0.1, busy_timeout_s=0.05)
store = StoreWriter(config, path=sys.argv[1]).start()
def write(n):
    worst = 0
    for i in range(n):
        t = time.perf_counter()
        store.write(EventRecord(new_id(), "s1", EventKind.STORE, Phase.UPDATE, "x", datetime.now(UTC), 1.0, {"i": i}))
        worst = max(worst, time.perf_counter() - t)
    return worst
worst = write(100)
deadline = time.monotonic() + 10
while store.health().ok and time.monotonic() < deadline:
    time.sleep(0.01)
first = asdict(store.health())
worst = max(worst, write(100))
time.sleep(0.05)
print(json.dumps({"first": first, "later": asdict(store.health()), "worst_write_s": worst,
                  "flushed": store.flush(timeout=0.1), "closed_clean": store.close(timeout=5)}), flush=True)
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged child can reach (pytest's tmp_path sits under a folder only its owner can enter)."""
    folder = Path(tempfile.mkdtemp(prefix="signage-store-"))
    folder.chmod(0o755)
    yield folder
    for p in [folder, *folder.iterdir()]:
        p.chmod(0o755)
    shutil.rmtree(folder)


def test_read_only_database_reports_and_keeps_running(shared_dir: Path) -> None:
    path = shared_dir / "signage.db"
    db = open_database(path)
    migrate(db)
    db.close()
    assert sorted(p.name for p in shared_dir.iterdir()) == ["signage.db"]  # the WAL files are gone after close
    path.chmod(0o644)
    if os.geteuid() != 0:  # the child keeps our user: take the write permission away instead
        path.chmod(0o444)
        shared_dir.chmod(0o555)
    child = subprocess.run(
        [sys.executable, "-c", CHILD_READ_ONLY, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    first = report["first"]
    assert first["ok"] is False
    assert "read-only" in first["error"]
    assert str(path) in first["error"]
    assert first["committed_rows"] == 0
    later = report["later"]
    assert later["ok"] is False
    assert later["backlog_rows"] == 200  # writes kept being accepted while the database refused them
    assert later["failed_attempts"] >= first["failed_attempts"] >= 1
    assert report["worst_write_s"] < 0.05
    assert report["flushed"] is False
    assert report["closed_clean"] is False  # closing with rows it could not write says so
    assert "200 rows not written" in child.stderr
    assert rows(path, "SELECT COUNT(*) AS n FROM events")[0]["n"] == 0


def test_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the database folder should be")
    path = blocker / "var" / "signage.db"
    writer = StoreWriter(FAST, path=path).start()
    writer.write(event(0))  # no exception reaches the caller
    assert wait_for(lambda: not writer.health().ok)
    health = writer.health()
    assert health.error is not None
    assert health.error.startswith(f"cannot write {path}: its folder cannot be created or opened")
    assert health.backlog_rows == 1
    assert not writer.ready.is_set()
    writer.write(event(1))
    assert writer.health().backlog_rows == 2
    assert writer.close(timeout=5) is False


def test_close_with_a_dead_database_reports_the_rows_lost(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # No busy wait: without a backoff between them, retries on close would spin thousands of times.
    started = StoreWriter(FAST.model_copy(update={"busy_timeout_s": 0.0, "retry_max_s": 0.5}), path=db_path).start()
    assert started.ready.wait(10), started.health()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(25):
            started.write(event(i))
        assert wait_for(lambda: not started.health().ok)
        with caplog.at_level(logging.ERROR, logger="signage.store"):
            begin = time.monotonic()
            assert started.close(timeout=5) is False
            assert time.monotonic() - begin < 3  # retries for up to retry_max_s, then it gives up
        lost = [r for r in caplog.records if r.levelno == logging.ERROR and "closing with" in r.getMessage()]
        assert len(lost) == 1
        assert lost[0].getMessage() == f"store: closing with 25 rows not written to {db_path}"
        # After close the retries stop instead of spinning: only a handful of attempts in total.
        assert started.health().failed_attempts < 50
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert rows(db_path, "SELECT COUNT(*) AS n FROM events")[0]["n"] == 0


def test_a_version_1_database_migrates_to_the_same_columns_as_a_new_one(tmp_path: Path) -> None:
    """Migration 2 adds the proof-of-play columns to an existing database; old rows keep their data."""
    from signage.store.schema import MIGRATIONS, _create_table

    old = tmp_path / "v1.db"
    conn = sqlite3.connect(old)
    for statement in MIGRATIONS[0][2]:
        conn.execute(statement)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_utc TEXT NOT NULL)"
    )
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial schema', '2026-01-01T00:00:00.000000Z')")
    conn.execute(
        "INSERT INTO plays (id, session_id, decision_id, item_id, started_utc, started_mono, measured, status, seq) "
        "VALUES ('p1', 's', 'd', 'a', '2026-01-01T00:00:00.000000Z', 0.0, 1, 'closed', 1)"
    )
    conn.commit()
    conn.close()
    assert "started_frame" not in _create_table("plays")
    db = open_database(old)
    assert migrate(db) == [2, 3, 4, 5]
    fresh = open_database(tmp_path / "new.db")
    migrate(fresh)
    for table in ("plays", "sessions", "exposures", "viewers", "decisions"):
        assert [c.name for c in db[table].columns] == [c.name for c in fresh[table].columns]
    row = db.execute("SELECT item_id, started_frame, fallback FROM plays WHERE id = 'p1'").fetchone()
    assert row == ("a", None, "")


# -- draining --------------------------------------------------------------------------------------------------------


def test_drain_returns_once_a_whole_backlog_is_committed(db_path: Path) -> None:
    # Rows queued far faster than they commit, as a simulation queues them: drain returns only once all are in.
    config = StoreConfig(flush_interval_s=0.01, batch_max_rows=50)
    with StoreWriter(config, path=db_path) as writer:
        for n in range(20_000):
            writer.write(event(n))
        assert writer.drain(stall_s=5.0)
        assert writer.health().backlog_rows == 0
        assert rows(db_path, "SELECT COUNT(*) AS n FROM events")[0]["n"] == 20_000


def test_drain_gives_up_when_nothing_commits(tmp_path: Path) -> None:
    # The path is a directory, so the database never opens: drain says so after its stall instead of waiting forever.
    writer = StoreWriter(FAST, path=tmp_path).start()
    try:
        writer.write(event(1))
        started_at = time.monotonic()
        assert not writer.drain(stall_s=0.3)
        assert time.monotonic() - started_at < 5.0
        assert writer.health().backlog_rows == 1
        assert writer.health().error
    finally:
        writer.close()
