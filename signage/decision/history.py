"""What the rules need to remember: plays started and seconds delivered (caps and shares), and which items each
present viewer already watched (no repeat). Both are fed by the engine's calls on the Decider; nothing here reads a
clock: every time comes in with the call.

Days are the store's local calendar days (DST-correct through zoneinfo); a play's seconds count on the local day it
started. The viewer memory lives in RAM only, with a time to live, like the re-identification embeddings.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter, deque
from collections.abc import Iterable
from datetime import date, datetime, timedelta

HOUR = timedelta(hours=1)


class DeliveryHistory:
    """Plays started (for caps) and measured seconds on screen (for shares), per item and local day."""

    def __init__(self, *, timezone: str, keep_days: int = 3) -> None:
        self._zone = zoneinfo.ZoneInfo(timezone)
        self._keep_days = keep_days
        self._recent: deque[tuple[datetime, str]] = deque()  # plays started within the last hour, oldest first
        self._plays: dict[date, Counter[str]] = {}
        self._seconds: dict[date, dict[str, float]] = {}
        self._total_s: dict[date, float] = {}

    def local_day(self, t_utc: datetime) -> date:
        return t_utc.astimezone(self._zone).date()

    def started(self, item_id: str, t_utc: datetime) -> None:
        """A decision the engine acts on: the item starts playing now (counted against caps at once)."""
        self._recent.append((t_utc, item_id))
        while self._recent and self._recent[0][0] <= t_utc - HOUR:
            self._recent.popleft()
        day = self.local_day(t_utc)
        self._plays.setdefault(day, Counter())[item_id] += 1
        self._forget_before(day)

    def played(self, item_id: str, started_utc: datetime, ended_utc: datetime) -> None:
        """What the player measured: the item was on screen from `started_utc` to `ended_utc`."""
        seconds = max(0.0, (ended_utc - started_utc).total_seconds())
        day = self.local_day(started_utc)
        per_item = self._seconds.setdefault(day, {})
        per_item[item_id] = per_item.get(item_id, 0.0) + seconds
        self._total_s[day] = self._total_s.get(day, 0.0) + seconds

    def plays_last_hour(self, item_ids: Iterable[str], t_utc: datetime) -> int:
        """Plays of these items started in the hour before `t_utc` (a rolling hour: stricter than clock hours)."""
        wanted = frozenset(item_ids)
        since = t_utc - HOUR
        return sum(1 for t, item_id in self._recent if t > since and item_id in wanted)

    def plays_on(self, item_ids: Iterable[str], day: date) -> int:
        counts = self._plays.get(day)
        return sum(counts[i] for i in item_ids) if counts else 0

    def seconds_on(self, item_ids: Iterable[str], day: date) -> float:
        seconds = self._seconds.get(day)
        return sum(seconds.get(i, 0.0) for i in item_ids) if seconds else 0.0

    def total_seconds_on(self, day: date) -> float:
        return self._total_s.get(day, 0.0)

    def _forget_before(self, today: date) -> None:
        oldest = today - timedelta(days=self._keep_days)
        for table in (self._plays, self._seconds, self._total_s):
            for day in [d for d in table if d < oldest]:
                del table[day]


class ViewerMemory:
    """Which items each viewer (an anonymous key, RAM only) watched, and when; forgotten after `ttl`."""

    def __init__(self, *, ttl: timedelta, max_viewers: int = 50_000) -> None:
        self._ttl = ttl
        self._max_viewers = max_viewers
        self._watched: dict[str, dict[str, datetime]] = {}  # insertion order = oldest viewer first

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def watched(self, viewer_key: str, item_id: str, t_utc: datetime) -> None:
        items = self._watched.pop(viewer_key, {})
        items[item_id] = t_utc
        self._watched[viewer_key] = items  # re-inserted: most recent last
        while len(self._watched) > self._max_viewers:
            del self._watched[next(iter(self._watched))]

    def seen_by(self, viewer_keys: Iterable[str], t_utc: datetime) -> frozenset[str]:
        """Items any of these viewers watched within the time to live before `t_utc`."""
        since = t_utc - self._ttl
        seen: set[str] = set()
        for key in viewer_keys:
            items = self._watched.get(key)
            if items:
                seen.update(item_id for item_id, t in items.items() if t > since)
        return frozenset(seen)
