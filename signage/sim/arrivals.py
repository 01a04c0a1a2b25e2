"""Arrivals: a non-homogeneous Poisson process of groups with a time-of-day profile in the store's local time.

The rate at a moment is `peak_per_hour * day_profile(local hour)`, where the profile is 1 at the busiest time
(lunch and late afternoon), low in the morning and near zero at night. Arrival times are drawn by thinning (Lewis
and Shedler): candidates at the peak rate, each kept with probability profile / 1, which is exact for any profile
and draws nothing on ticks without a candidate. Local time comes from the UTC time of each candidate converted to
the store's zone, so days that change to or from daylight saving time are handled by zoneinfo.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

# (local hour, share of the peak rate); linear in between, and 24:00 wraps to 00:00.
DAY_PROFILE: tuple[tuple[float, float], ...] = (
    (0.0, 0.02),
    (7.0, 0.02),
    (8.0, 0.10),
    (9.0, 0.20),
    (10.0, 0.25),
    (11.0, 0.40),
    (12.0, 0.85),
    (12.5, 1.00),
    (13.5, 0.90),
    (14.5, 0.55),
    (16.0, 0.60),
    (17.0, 0.90),
    (17.75, 1.00),
    (18.5, 0.85),
    (19.5, 0.55),
    (20.5, 0.30),
    (21.5, 0.10),
    (22.5, 0.02),
    (24.0, 0.02),
)
_HOURS = [h for h, _ in DAY_PROFILE]
OPENING_HOUR = 8  # local hour the store opens: arrivals rise from the night level (0.02) to 0.10 of the peak


def day_profile(local_hour: float) -> float:
    """Share of the peak arrival rate at a local hour in [0, 24)."""
    hour = local_hour % 24.0
    i = bisect.bisect_right(_HOURS, hour)
    if i >= len(DAY_PROFILE):
        return DAY_PROFILE[-1][1]
    (h0, v0), (h1, v1) = DAY_PROFILE[i - 1], DAY_PROFILE[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def local_hour(moment: datetime, zone: ZoneInfo) -> float:
    local = moment.astimezone(zone)
    return local.hour + local.minute / 60.0 + (local.second + local.microsecond / 1e6) / 3600.0


def arrival_rate_per_s(peak_per_hour: float, moment: datetime, zone: ZoneInfo) -> float:
    """Expected groups per second at a moment (aware datetime)."""
    return peak_per_hour / 3600.0 * day_profile(local_hour(moment, zone))


class ArrivalProcess:
    """Group arrival times, drawn lazily as the simulated clock moves."""

    def __init__(self, peak_per_hour: float, zone: ZoneInfo, rng: np.random.Generator) -> None:
        self._peak_per_s = peak_per_hour / 3600.0
        self._zone = zone
        self._rng = rng
        self._next: float | None = None

    def due(self, t_mono: float, t_utc: datetime) -> list[float]:
        """The arrival times (monotonic seconds) in (previous call, t_mono]; the first call starts the process."""
        if self._peak_per_s <= 0.0:
            return []
        if self._next is None:
            self._next = t_mono + float(self._rng.exponential(1.0 / self._peak_per_s))
        arrivals: list[float] = []
        while self._next <= t_mono:
            candidate = self._next
            moment = t_utc - timedelta(seconds=t_mono - candidate)
            if float(self._rng.random()) < day_profile(local_hour(moment, self._zone)):
                arrivals.append(candidate)
            self._next = candidate + float(self._rng.exponential(1.0 / self._peak_per_s))
        return arrivals
