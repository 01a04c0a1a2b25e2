"""Schedules and dayparts, read on the store's wall clock.

An instant is converted to the store's local time first (zoneinfo), then compared with wall-clock windows, so a
window means the same local hours on every day, DST or not: on the night clocks spring forward a window of
02:00-02:30 does not occur at all, and on the night they fall back it occurs twice. A window whose end is at or
before its start crosses midnight; its after-midnight part belongs to the day it started on (a Friday 22:00-02:00
window covers Saturday 01:00), and so do its dates: a flight that ends on Friday still plays that window until
02:00 on Saturday, and one that starts on Saturday does not play Friday's window after midnight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from signage.config.rules import WEEKDAYS, WindowConfig, minutes_of

DAY_S = 86_400


@dataclass(frozen=True)
class Window:
    """Local seconds after midnight [start_s, end_s) on the given weekdays (0 = Monday)."""

    days: frozenset[int]
    start_s: int
    end_s: int

    @classmethod
    def from_config(cls, config: WindowConfig) -> Window:
        days = frozenset(WEEKDAYS.index(day) for day in config.days)
        return cls(days=days, start_s=minutes_of(config.start) * 60, end_s=minutes_of(config.end) * 60)

    def contains(self, local: datetime) -> bool:
        return self.started_on(local) is not None

    def started_on(self, local: datetime) -> date | None:
        """The local date on which the occurrence of this window that contains `local` started; None if none does."""
        second = local.hour * 3600 + local.minute * 60 + local.second
        weekday = local.weekday()
        if self.start_s < self.end_s:
            inside = weekday in self.days and self.start_s <= second < self.end_s
            return local.date() if inside else None
        if second >= self.start_s:  # the evening part of a window that crosses midnight
            return local.date() if weekday in self.days else None
        if second < self.end_s and (weekday - 1) % 7 in self.days:  # its after-midnight part: the day before's
            return local.date() - timedelta(days=1)
        return None


@dataclass(frozen=True)
class Schedule:
    """When items may play: between two local dates (inclusive) and inside any of the windows (none: all day)."""

    start_date: date | None = None
    end_date: date | None = None
    windows: tuple[Window, ...] = ()

    @classmethod
    def build(cls, *, start_date: date | None, end_date: date | None, windows: Sequence[Window]) -> Schedule | None:
        """None when the rules set no dates and no windows: the items may always play."""
        if start_date is None and end_date is None and not windows:
            return None
        return cls(start_date=start_date, end_date=end_date, windows=tuple(windows))

    def allows(self, local: datetime) -> bool:
        """`local` must already be in the store's time zone. The dates are those of the day a window started on."""
        if not self.windows:
            return self._within_dates(local.date())
        for window in self.windows:
            started = window.started_on(local)
            if started is not None and self._within_dates(started):
                return True
        return False

    def _within_dates(self, day: date) -> bool:
        if self.start_date is not None and day < self.start_date:
            return False
        return self.end_date is None or day <= self.end_date
