"""Ground truth of the virtual store: what really happened, for tests and reports (the engine never sees it).

Time accounting is per tick: the state a person is in at a tick counts for the tick's length (t_mono minus the
previous tick's t_mono), so per-item seconds add up to the time in view.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from signage.types import Attributes, Direction

FACING_MAX_DEG = 20.0  # |yaw| and |pitch| at most this: truly facing the screen (the camera sits on the screen)


class WatchEnd(enum.StrEnum):
    DONE = "done"  # the watching time ran out
    ITEM_CHANGED = "item_changed"  # the item changed and the viewer did not stay for the new one
    SCREEN_BLANK = "screen_blank"  # nothing was shown any more
    OPEN = "open"  # still watching when the truth was taken


@dataclass(frozen=True)
class WatchTruth:
    """One episode of watching one item. An item change that the viewer stays for starts a new episode."""

    track_id: int
    item_id: str
    start_mono: float
    end_mono: float | None  # None while still open
    relevance: float
    noticed: bool  # True: began by noticing; False: stayed on after the item changed
    end: WatchEnd
    held: bool = False  # drawn as a held watch (past the hold time), not a short look; reading extends either

    @property
    def duration_s(self) -> float | None:
        return None if self.end_mono is None else self.end_mono - self.start_mono


@dataclass(frozen=True)
class VisitTruth:
    """One visit of one shopper: one track id, from entering the view to leaving it."""

    track_id: int
    shopper_id: int
    group_id: int  # as in the observations: -1 alone, else shared by the group's members in this visit
    group_size: int
    attributes: Attributes  # the true bands (confidence 1)
    observed: Attributes  # what the observations carry for this track
    returning: bool  # truly a shopper the camera saw on an earlier visit
    flagged_returning: bool  # what the observations say (re-identification is imperfect)
    direction: Direction  # how the visit began: crossing left/right or approaching
    entered_mono: float
    left_mono: float | None  # None while still in view
    in_view_s: float
    facing_s: float  # seconds with the true head pose within FACING_MAX_DEG of the screen
    watch_s: Mapping[str, float]  # item id -> seconds watching it
    exposure_s: Mapping[str, float]  # item id -> seconds in view and free to notice it (not watching, not leaving)
    notices: Mapping[str, int]  # item id -> times it was noticed
    relevance: Mapping[str, float]  # item id -> relevance to this shopper, for every item of the pool

    @property
    def watch_total_s(self) -> float:
        return sum(self.watch_s.values())


@dataclass(frozen=True)
class SimTruth:
    t_mono: float | None  # the last tick, None before the first
    visits: tuple[VisitTruth, ...]
    watches: tuple[WatchTruth, ...]
    group_arrivals_mono: tuple[float, ...]
    shoppers: int  # distinct shoppers created so far
    missed_detections: int  # person-ticks dropped as sensor misses

    def visit(self, track_id: int) -> VisitTruth:
        for visit in self.visits:
            if visit.track_id == track_id:
                return visit
        raise KeyError(track_id)


@dataclass(eq=False)
class VisitRecord:
    """The mutable record the simulator keeps while a visit runs."""

    track_id: int
    shopper_id: int
    group_id: int
    group_size: int
    attributes: Attributes
    observed: Attributes
    returning: bool
    flagged_returning: bool
    direction: Direction
    entered_mono: float
    left_mono: float | None = None
    in_view_s: float = 0.0
    facing_s: float = 0.0
    watch_s: dict[str, float] = field(default_factory=dict)
    exposure_s: dict[str, float] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)

    def freeze(self, relevance: Mapping[str, float]) -> VisitTruth:
        return VisitTruth(
            track_id=self.track_id,
            shopper_id=self.shopper_id,
            group_id=self.group_id,
            group_size=self.group_size,
            attributes=self.attributes,
            observed=self.observed,
            returning=self.returning,
            flagged_returning=self.flagged_returning,
            direction=self.direction,
            entered_mono=self.entered_mono,
            left_mono=self.left_mono,
            in_view_s=self.in_view_s,
            facing_s=self.facing_s,
            watch_s=MappingProxyType(dict(self.watch_s)),
            exposure_s=MappingProxyType(dict(self.exposure_s)),
            notices=MappingProxyType(dict(self.notices)),
            relevance=MappingProxyType(dict(relevance)),
        )


@dataclass(eq=False)
class WatchRecord:
    track_id: int
    item_id: str
    start_mono: float
    relevance: float
    noticed: bool
    held: bool = False
    end_mono: float | None = None
    end: WatchEnd = WatchEnd.OPEN

    def freeze(self) -> WatchTruth:
        return WatchTruth(
            self.track_id,
            self.item_id,
            self.start_mono,
            self.end_mono,
            self.relevance,
            self.noticed,
            self.end,
            self.held,
        )
