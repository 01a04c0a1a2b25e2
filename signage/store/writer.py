"""The one writer of the local database: a thread that batches records into transactions.

Callers hand over frozen records with `write`, which only appends to an in-memory queue and never waits on the
disk. The writer commits up to `batch_max_rows` at a time. When the database refuses (locked, read-only, disk full,
gone), the batch stays in memory, the health turns to an error that says why, and the writer retries with backoff:
the engine keeps running and nothing is lost unless the process dies before the database comes back.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from signage.config import StoreConfig
from signage.records import Record
from signage.store.recovery import Recovery, close_open_rows
from signage.store.schema import TABLE_COLUMNS, migrate, open_database, transaction

log = logging.getLogger("signage.store")


@dataclass(frozen=True)
class StoreHealth:
    ok: bool
    error: str | None
    backlog_rows: int
    committed_rows: int
    failed_attempts: int


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    pass


_Item = Record | _Flush | _Stop


def explain(exc: BaseException, path: str) -> str:
    """A clear sentence for the ways SQLite refuses to write."""
    text = str(exc)
    lowered = text.lower()
    if "newer than this software" in lowered:
        hint = "its schema is newer than this software"
    elif isinstance(exc, OSError):
        hint = "its folder cannot be created or opened"
    elif "locked" in lowered or "busy" in lowered:
        hint = "another process holds a lock on it"
    elif "readonly" in lowered or "read-only" in lowered:
        hint = "the file or its folder is read-only for this user"
    elif "full" in lowered:
        hint = "the disk is full"
    elif "unable to open" in lowered:
        hint = "the file cannot be opened or created (missing folder or no permission)"
    elif "malformed" in lowered or "not a database" in lowered:
        hint = "the file is not a healthy SQLite database"
    else:
        hint = "SQLite refused the write"
    return f"cannot write {path}: {hint} ({text})"


def _upsert_sql(table: str) -> str:
    columns = [name for name, _ in TABLE_COLUMNS[table]] + ["seq"]
    names = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != "id")
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}"


class StoreWriter:
    """Owns the SQLite connection on its own thread; use `write`, `flush`, `close` from any thread."""

    def __init__(
        self,
        config: StoreConfig,
        *,
        path: str | Path | None = None,
        on_commit: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self._config = config
        self._path = str(path if path is not None else config.path)
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite_utils.Database | None = None
        self._seq = 0
        self._sql = {table: _upsert_sql(table) for table in TABLE_COLUMNS}
        self._columns = {table: [name for name, _ in cols] for table, cols in TABLE_COLUMNS.items()}
        self._error: str | None = None
        self._committed = 0
        self._failed = 0
        self._pending_count = 0
        self.recovery: Recovery | None = None
        self.ready = threading.Event()

    # -- caller side -------------------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    def start(self) -> StoreWriter:
        if self._thread is not None:
            raise RuntimeError("StoreWriter already started")
        self._thread = threading.Thread(target=self._run, name="signage-store-writer", daemon=True)
        self._thread.start()
        return self

    def write(self, record: Record) -> None:
        """Queue a record (insert, or replace the row with the same id). Never blocks on the database."""
        self._queue.put(record)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything written before this call is committed; False if that did not happen in time."""
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def drain(self, stall_s: float = 30.0) -> bool:
        """Wait until everything queued so far is committed, for as long as rows keep being committed (a
        simulation queues rows far faster than real time, so a fixed deadline would cut a healthy writer short);
        False once `stall_s` passed with no row committed."""
        committed = self._committed
        while not self.flush(stall_s):
            if self._committed == committed:
                return False
            committed = self._committed
        return True

    def health(self) -> StoreHealth:
        backlog = self._queue.qsize() + self._pending_count
        return StoreHealth(
            ok=self._error is None,
            error=self._error,
            backlog_rows=backlog,
            committed_rows=self._committed,
            failed_attempts=self._failed,
        )

    def close(self, timeout: float = 10.0) -> bool:
        """Commit what is queued and stop; False (with an error logged) if rows were left uncommitted."""
        if self._thread is None:
            return True
        self._queue.put(_Stop())
        self._wake.set()
        self._thread.join(timeout)
        clean = not self._thread.is_alive() and self._pending_count == 0 and self._queue.qsize() <= 1
        if not clean:
            log.error("store: closing with %d rows not written to %s", self.health().backlog_rows, self._path)
        return clean

    def __enter__(self) -> StoreWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer thread -----------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _open(self) -> sqlite_utils.Database:
        db = open_database(self._path, busy_timeout_s=self._config.busy_timeout_s)
        try:
            migrate(db)
            row = db.execute(
                "SELECT MAX(m) FROM ("
                + " UNION ALL ".join(f"SELECT MAX(seq) AS m FROM {t}" for t in TABLE_COLUMNS)
                + ")"
            ).fetchone()
            self._seq = int(row[0] or 0)
            self.recovery = close_open_rows(db, self._next_seq)
        except BaseException:
            db.close()
            raise
        if self.recovery.total:
            log.warning("store: closed rows left open by an earlier crash: %s", self.recovery.closed)
        return db

    def _set_error(self, message: str | None) -> None:
        if message != self._error:
            if message is None:
                log.info("store: writing to %s again", self._path)
            else:
                log.error("store: %s; rows are kept in memory and retried", message)
        self._error = message

    def _commit(self, db: sqlite_utils.Database, batch: list[Record]) -> list[str]:
        by_table: dict[str, list[tuple[object, ...]]] = {}
        ids = []
        for record in batch:
            try:
                row = record.to_row()
            except (TypeError, ValueError) as exc:
                # Records are validated when made, so this is a bug; one bad record must not stop the writer.
                log.error("store: dropping a %s that cannot be written: %s", type(record).__name__, exc)
                continue
            ids.append(row["id"])
            values = [row[c] for c in self._columns[record.TABLE]]
            values.append(self._next_seq())
            by_table.setdefault(record.TABLE, []).append(tuple(values))
        with transaction(db):
            for table, rows in by_table.items():
                db.conn.executemany(self._sql[table], rows)
        return ids

    def _gather(self, pending: list[Record], markers: list[_Flush]) -> bool:
        """Take queued items up to a batch (waiting a little for the first); True once a stop was taken."""
        stop = False
        if not pending and not markers:
            try:
                stop = self._take(self._queue.get(timeout=self._config.flush_interval_s), pending, markers)
            except queue.Empty:
                return False
        while len(pending) < self._config.batch_max_rows:
            try:
                stop = self._take(self._queue.get_nowait(), pending, markers) or stop
            except queue.Empty:
                break
        return stop

    def _run(self) -> None:
        pending: list[Record] = []
        markers: list[_Flush] = []
        stop_deadline: float | None = None
        backoff = self._config.retry_initial_s
        db: sqlite_utils.Database | None = None
        while True:
            if self._gather(pending, markers) and stop_deadline is None:
                # On close, a failing database still gets a few seconds of retries before rows are given up.
                stop_deadline = time.monotonic() + min(5.0, self._config.retry_max_s)
            self._pending_count = len(pending)
            if len(pending) >= self._config.warn_backlog_rows:
                log.warning("store: %d rows waiting to be written", len(pending))
            try:
                if db is None:
                    db = self._open()
                    self.ready.set()
                ids = self._commit(db, pending) if pending else []
            except (sqlite3.Error, OSError, RuntimeError) as exc:  # RuntimeError: a schema newer than the code
                self._failed += 1
                self._set_error(explain(exc, self._path))
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    break
                # close() sets the wake to cut a backoff short; clear it so later retries still back off.
                wait_s = backoff if stop_deadline is None else min(backoff, stop_deadline - time.monotonic())
                if self._wake.wait(max(0.0, wait_s)):
                    self._wake.clear()
                backoff = min(backoff * 2, self._config.retry_max_s)
                continue
            self._set_error(None)
            backoff = self._config.retry_initial_s
            self._committed += len(ids)
            pending.clear()
            self._pending_count = 0
            if self._on_commit and ids:
                self._on_commit(ids)
            for marker in markers:
                marker.done.set()
            markers.clear()
            if stop_deadline is not None and self._queue.qsize() == 0:
                break
        if db is not None:
            db.close()

    def _take(self, item: _Item, pending: list[Record], markers: list[_Flush]) -> bool:
        if isinstance(item, _Stop):
            return True
        if isinstance(item, _Flush):
            markers.append(item)
        else:
            pending.append(item)
        return False
