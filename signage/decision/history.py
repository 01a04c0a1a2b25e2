"""What the rules need to remember: plays started and seconds delivered (caps and shares), and which items each
present viewer already watched (no repeat). Both are fed by the engine's calls on the Decider; nothing here reads a
clock: every time comes in with the call.

Delivery is kept per arm: the control arm's plays and seconds apart from everything else (the learner, and
interactive detail pages). The rules then see one arm through an `ArmView`: caps count the whole screen (a hard
bound) and the arm's own part of each cap; shares are paced on the arm's own seconds. So the learner's choices
never use up what the control arm may play, and the control arm stays what a plain playlist would do on its slots.

Days are the store's local calendar days (DST-correct through zoneinfo); a play's seconds count on the local day it
started. After a restart `DeliveryHistory.from_store` rebuilds the counts from the logged decisions and plays, so
caps and shares do not start from zero. The viewer memory lives in RAM only, with a time to live, like the
re-identification embeddings; it is not rebuilt.
"""

from __future__ import annotations

import sqlite3
import zoneinfo
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from signage.clock import iso_utc, parse_iso_utc

HOUR = timedelta(hours=1)
CONTROL = "control"
LEARNER = "learner"  # every play that is not the control arm's: the learner's, and interactive detail pages
RULE = "rule"  # the arm logged for a decision a rule made: a detail page opened for a reader
_EPSILON = 1e-9


def arm_key(arm: str | None) -> str:
    return CONTROL if arm == CONTROL else LEARNER


class DeliveryHistory:
    """Plays started (for caps) and measured seconds on screen (for shares), per arm, item and local day.

    Read without an arm, the counts are the whole screen's; it is then also the `DeliveryView` of a screen with no
    control arm."""

    part = 1.0  # as a DeliveryView: the whole screen has all of every cap

    def __init__(self, *, timezone: str, keep_days: int = 3) -> None:
        self._zone = zoneinfo.ZoneInfo(timezone)
        self._keep_days = keep_days
        self._recent: deque[tuple[datetime, str, str]] = deque()  # (start, item, arm) in the last hour, oldest first
        self._plays: dict[date, Counter[tuple[str, str]]] = {}  # day -> (arm, item) -> plays started
        self._seconds: dict[date, dict[tuple[str, str], float]] = {}  # day -> (arm, item) -> seconds on screen
        self._total_s: dict[date, dict[str, float]] = {}  # day -> arm -> seconds on screen

    @property
    def timezone(self) -> str:
        return self._zone.key

    def local_day(self, t_utc: datetime) -> date:
        return t_utc.astimezone(self._zone).date()

    # -- what happened -----------------------------------------------------------------------------------------
    def started(self, item_id: str, t_utc: datetime, *, arm: str = LEARNER) -> None:
        """A decision the engine acts on: the item starts playing now (counted against caps at once)."""
        self._recent.append((t_utc, item_id, arm_key(arm)))
        while self._recent and self._recent[0][0] <= t_utc - HOUR:
            self._recent.popleft()
        day = self.local_day(t_utc)
        self._plays.setdefault(day, Counter())[(arm_key(arm), item_id)] += 1
        self._forget_before(day)

    def played(self, item_id: str, started_utc: datetime, ended_utc: datetime, *, arm: str = LEARNER) -> None:
        """What the player measured: the item was on screen from `started_utc` to `ended_utc`."""
        seconds = max(0.0, (ended_utc - started_utc).total_seconds())
        day = self.local_day(started_utc)
        key = (arm_key(arm), item_id)
        per_item = self._seconds.setdefault(day, {})
        per_item[key] = per_item.get(key, 0.0) + seconds
        totals = self._total_s.setdefault(day, {})
        totals[key[0]] = totals.get(key[0], 0.0) + seconds

    # -- what the rules read (arm None: the whole screen) -------------------------------------------------------
    def plays_last_hour(self, item_ids: Iterable[str], t_utc: datetime, *, arm: str | None = None) -> int:
        """Plays of these items started in the hour before `t_utc` (a rolling hour: stricter than clock hours)."""
        wanted = frozenset(item_ids)
        since = t_utc - HOUR
        want_arm = None if arm is None else arm_key(arm)
        return sum(1 for t, item_id, a in self._recent if t > since and item_id in wanted and want_arm in (None, a))

    def plays_on(self, item_ids: Iterable[str], day: date, *, arm: str | None = None) -> int:
        counts = self._plays.get(day)
        if not counts:
            return 0
        arms = (CONTROL, LEARNER) if arm is None else (arm_key(arm),)
        return sum(counts[(a, i)] for a in arms for i in item_ids)

    def seconds_on(self, item_ids: Iterable[str], day: date, *, arm: str | None = None) -> float:
        seconds = self._seconds.get(day)
        if not seconds:
            return 0.0
        arms = (CONTROL, LEARNER) if arm is None else (arm_key(arm),)
        return sum(seconds.get((a, i), 0.0) for a in arms for i in item_ids)

    def total_seconds_on(self, day: date, *, arm: str | None = None) -> float:
        totals = self._total_s.get(day, {})
        return sum(totals.values()) if arm is None else totals.get(arm_key(arm), 0.0)

    def cap_reached(self, item_ids: frozenset[str], cap: int, t_utc: datetime, *, per_day: bool) -> bool:
        """The whole screen has started `cap` plays of these items in the rolling hour (or local day)."""
        return self.view(None).cap_reached(item_ids, cap, t_utc, per_day=per_day)

    def view(self, arm: str | None, part: float = 1.0) -> ArmView:
        """What one arm sees: its own seconds, and `part` of every cap on top of the whole screen's cap."""
        return ArmView(self, arm, part)

    def _forget_before(self, today: date) -> None:
        oldest = today - timedelta(days=self._keep_days)
        for table in (self._plays, self._seconds, self._total_s):
            for day in [d for d in table if d < oldest]:
                del table[day]

    # -- after a restart ---------------------------------------------------------------------------------------
    @classmethod
    def from_store(cls, path: str | Path, *, timezone: str, now_utc: datetime, keep_days: int = 3) -> DeliveryHistory:
        """The delivery history as logged in a signage database, up to `now_utc`: decisions of the control and
        learner arms count as plays started (as `Decider.decide` counts them), closed plays give the seconds on
        screen, each under its decision's arm. A missing database gives an empty history; the file is opened
        read-only (safe while a writer has it open)."""
        history = cls(timezone=timezone, keep_days=keep_days)
        db_file = Path(path)
        if not db_file.is_file():
            return history
        zone = zoneinfo.ZoneInfo(timezone)
        first_day = now_utc.astimezone(zone).date() - timedelta(days=keep_days)
        day_start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone)
        since = iso_utc(min(day_start, now_utc - HOUR))
        until = iso_utc(now_utc)
        conn = sqlite3.connect(f"file:{db_file.resolve()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"decisions", "plays"} <= tables:
                return history
            decided = conn.execute(
                "SELECT t_utc, item_id, arm FROM decisions WHERE t_utc >= ? AND t_utc <= ? "
                "AND arm IN (?, ?) ORDER BY t_utc",
                (since, until, CONTROL, LEARNER),
            ).fetchall()
            shown = conn.execute(
                "SELECT p.started_utc, p.ended_utc, p.item_id, COALESCE(d.arm, '') FROM plays p "
                "LEFT JOIN decisions d ON d.id = p.decision_id "
                "WHERE p.ended_utc IS NOT NULL AND p.started_utc >= ? AND p.started_utc <= ?",
                (since, until),
            ).fetchall()
        except sqlite3.DatabaseError:
            return history  # not a signage database we can read: start empty rather than not at all
        finally:
            conn.close()
        for t_utc, item_id, arm in decided:
            history.started(item_id, parse_iso_utc(t_utc), arm=arm)
        for started_utc, ended_utc, item_id, arm in shown:
            history.played(item_id, parse_iso_utc(started_utc), min(parse_iso_utc(ended_utc), now_utc), arm=arm)
        return history


@dataclass(frozen=True)
class ArmView:
    """The delivery one arm is held to (the `DeliveryView` of `signage.decision.rules`).

    Caps: a play is refused when the whole screen reached the cap, or when this arm reached its `part` of it (the
    control arm with a 10% share may start 2 of 20 plays an hour, the learner 18). Both arms keep the screen's
    cap; neither can use up the other's part. Where `part * cap` is not whole, each arm may round up, and whichever
    comes first takes the last play. Shares: the arm's own seconds over the arm's own seconds on screen."""

    history: DeliveryHistory
    arm: str | None  # None: the whole screen
    part: float = 1.0

    def local_day(self, t_utc: datetime) -> date:
        return self.history.local_day(t_utc)

    def cap_reached(self, item_ids: frozenset[str], cap: int, t_utc: datetime, *, per_day: bool) -> bool:
        def count(arm: str | None) -> int:
            if per_day:
                return self.history.plays_on(item_ids, self.history.local_day(t_utc), arm=arm)
            return self.history.plays_last_hour(item_ids, t_utc, arm=arm)

        if count(None) >= cap:
            return True
        if self.arm is None or self.part >= 1.0:
            return False
        return count(self.arm) >= self.part * cap - _EPSILON

    def seconds_on(self, item_ids: frozenset[str], day: date) -> float:
        return self.history.seconds_on(item_ids, day, arm=self.arm)

    def total_seconds_on(self, day: date) -> float:
        return self.history.total_seconds_on(day, arm=self.arm)


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
