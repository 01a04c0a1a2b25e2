"""Clocks: the engine reads time only through a Clock, so the virtual store can run faster than real time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def utc(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def monotonic(self) -> float:
        return time.monotonic()

    def utc(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class SimClock:
    """A virtual clock that moves only when told to; both readings advance together.

    It counts whole microseconds, so a day of 0.1 s ticks adds up exactly instead of drifting in float sums.
    """

    start_utc: datetime
    elapsed_us: int = field(default=0)

    def __post_init__(self) -> None:
        if self.start_utc.tzinfo is None:
            raise ValueError("SimClock.start_utc must be timezone-aware")

    def monotonic(self) -> float:
        return self.elapsed_us / 1e6

    def utc(self) -> datetime:
        return self.start_utc + timedelta(microseconds=self.elapsed_us)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds})")
        self.elapsed_us += round(seconds * 1e6)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z suffix: sortable as text, unambiguous for analysts."""
    if moment.tzinfo is None:
        raise ValueError("iso_utc needs a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
