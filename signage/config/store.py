"""[store]: the local SQLite database and its writer thread."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class StoreConfig(Section):
    path: str = Field(default="var/signage.db", min_length=1, description="SQLite file; created if missing.")
    batch_max_rows: int = Field(
        default=5000, ge=1, le=100_000, description="Most rows the writer commits in one transaction."
    )
    flush_interval_s: float = Field(
        default=0.05, gt=0, le=10, description="Longest a queued row waits before the writer commits it."
    )
    retry_initial_s: float = Field(
        default=0.2, gt=0, le=60, description="First wait before retrying a batch the database refused."
    )
    retry_max_s: float = Field(default=10.0, gt=0, le=600, description="Longest wait between retries.")
    busy_timeout_s: float = Field(
        default=1.0, ge=0, le=60, description="How long SQLite waits on a lock before reporting it."
    )
    warn_backlog_rows: int = Field(
        default=200_000, ge=100, description="Log a warning when this many rows wait in memory unwritten."
    )
