"""Start-up recovery: rows a crashed session left open are closed at its last heartbeat and flagged `recovered`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from signage.store.schema import transaction

# Per table: the SET clause that closes an open row, given the session's last heartbeat (:utc, :mono).
_CLOSE = {
    "plays": "ended_utc = MAX(started_utc, :utc), ended_mono = MAX(started_mono, :mono)",
    "exposures": "ended_utc = MAX(started_utc, :utc)",
    "viewers": "last_seen_utc = MAX(last_seen_utc, first_seen_utc)",
    "sessions": "ended_utc = MAX(started_utc, :utc)",
}


@dataclass(frozen=True)
class Recovery:
    """How many rows of each table were found open and closed."""

    closed: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.closed.values())


def close_open_rows(db: sqlite_utils.Database, next_seq: Callable[[], int]) -> Recovery:
    """Close every open row in one transaction. Run before a new session writes anything."""
    closed = dict.fromkeys(_CLOSE, 0)
    with transaction(db):
        sessions = db.execute("SELECT id, last_seen_utc, last_seen_mono FROM sessions WHERE status = 'open'").fetchall()
        heartbeat = {sid: (utc, mono) for sid, utc, mono in sessions}
        for table, set_clause in _CLOSE.items():
            id_column = "id" if table == "sessions" else "session_id"
            rows = db.execute(f"SELECT id, {id_column} FROM {table} WHERE status = 'open'").fetchall()
            for row_id, session_id in rows:
                # A row whose session row never landed has no heartbeat: close it at its own start.
                utc, mono = heartbeat.get(session_id, ("", 0.0))
                db.conn.execute(
                    f"UPDATE {table} SET {set_clause}, status = 'recovered', seq = :seq WHERE id = :id",
                    {"utc": utc, "mono": mono, "seq": next_seq(), "id": row_id},
                )
            closed[table] = len(rows)
    return Recovery(closed=closed)
