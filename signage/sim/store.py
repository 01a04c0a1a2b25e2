"""The virtual store: simulated shoppers in front of the screen, observed as a tracker would report them.

`VirtualStore.step` is called once per tick with what is on screen and returns the `Observation` the audience
stage would get from camera + perception + tracking. `VirtualStore.truth` says what really happened.

Randomness: one `SeedSequence` from `config.seed`, spawned into two independent generators owned by the instance.
The population stream draws arrivals, who arrives (identities, tastes, returning or not), their paths and what
perception makes of them; the behaviour stream draws reactions to the screen and per-tick sensor noise. So the
same seed brings the same shoppers along the same paths whatever is shown, and runs that show different content
differ only in how people react: paired comparisons of content or policies need few people. A third stream,
independent of both, drives the slow drift of tastes, which depends on the clock only.

Relevance and appeal: `relevance(shopper, item)` is the hidden taste (drifting slowly with the whole population:
an Ornstein-Uhlenbeck offset per taste weight, updated every simulated hour, long-run spread `taste_drift_sd`,
correlation time `taste_drift_days`). What drives behaviour is the appeal: relevance × (1 - novelty_wear) ** n,
where n is how often this shopper noticed and watched this item before (on any visit): novelty wears off per viewer
and item, so a returning viewer is worth showing something new.

Effect sizes (all in `SimConfig`): a moving item is noticed `motion_notice_effect` times as often as a still one; a
companion watching makes the others in the group notice `group_follow_effect` times as often (a child stops at the
toys, the parent looks too); once noticed, an item holds attention (a watch past the hold time, mean `base_watch_s`
times up to `relevance_duration_effect` for a fully appealing item) with probability
`hold_share * (1 + (relevance_hold_effect - 1) * appeal)`, so a fully appealing item holds `relevance_hold_effect`
times as often as an irrelevant one; otherwise it is a short look (LOOK_S). `expected_watch_s` is that expectation,
for the oracle, with `notice_within` (the chance to notice an item while it shows).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from signage.config.sim import SimConfig
from signage.sim.arrivals import ArrivalProcess
from signage.sim.gaze import GazeMode, WatcherGaze
from signage.sim.shoppers import (
    MAX_DEPTH_M,
    NAN,
    Group,
    Member,
    Mode,
    NoiseStream,
    Population,
    Shopper,
    body_box,
    clip,
)
from signage.sim.tastes import TasteModel
from signage.sim.truth import FACING_MAX_DEG, SimTruth, VisitRecord, WatchEnd, WatchRecord
from signage.types import AgeBand, Attributes, ContentItem, Direction, Gender, Observation, Tracks

MAX_STAY_S = 180.0  # this long after a group arrived, nobody in it notices anything new: every visit ends
RETURN_AFTER_S = 600.0  # a returning group comes back at least this long after its first visit began
SAME_TRIP_S = 1800.0  # a return on the same trip comes at most this long after the trip's first pass began
TYPICAL_DRAWS = 400  # shoppers drawn per age band and gender for `typical_expected_watch_s`
REFRACTORY_S = 3.0  # after watching, no new noticing for this long
WATCH_SHAPE = 2.0  # gamma shape of watching times (exponential is 1)
MAX_WATCH_FACTOR = 10.0  # a watching time is at most this many times its mean
DRIFT_STEP_S = 3600.0  # tastes drift in hourly steps
HOLD_MIN_S = 3.5  # a held watch lasts at least this long: past the audience stage's hold time (3 s)
LOOK_S = (1.0, 2.5)  # a short look that does not hold (uniform): a watcher, not held

_EMPTY_TRACKS = Tracks.empty()
_NO_GAZE = (NAN, NAN)
READING_S = (8.0, 15.0)  # a reader watches at least this long (uniform): enough to read a few lines


class VirtualStore:
    """Shoppers who pass, notice the screen, watch what interests them, and leave."""

    def __init__(
        self,
        config: SimConfig,
        *,
        start_utc: datetime,
        timezone: str,
        items: Sequence[ContentItem],
        reid_ttl_s: float = math.inf,
    ) -> None:
        if start_utc.tzinfo is None:
            raise ValueError("VirtualStore: start_utc must be timezone-aware")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"VirtualStore: unknown time zone {timezone!r}") from error
        self.config = config
        self.start_utc = start_utc
        self.timezone = timezone
        self.items: tuple[ContentItem, ...] = tuple(items)
        self._reid_recall = config.reid_recall
        self._reid_false_positive = config.reid_false_positive
        if not reid_ttl_s > 0:
            raise ValueError(f"VirtualStore: reid_ttl_s must be > 0, got {reid_ttl_s}")
        self._reid_ttl_s = reid_ttl_s
        self._approach_share = config.approach_share
        self._leave_share = config.leave_share
        self._glance_rate_per_s = config.glance_rate_per_s
        population_seed, behaviour_seed = np.random.SeedSequence(config.seed).spawn(2)
        self._drift_rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(2,)))
        # Gaze has its own stream, so adding it changed nothing else; it decides who reads and where eyes go.
        self._gaze_rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(3,)))
        self._detail_of = {item.item_id: item.detail_id for item in self.items}
        self._tastes = TasteModel.from_config(self.items, config)
        self._drift = np.zeros(len(self._tastes.features))
        self._drift_epoch = 0
        # For `typical_expected_watch_s` only: its own stream, so asking changes nothing else.
        self._typical_rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(4,)))
        self._typical_draws: dict[tuple[AgeBand, Gender], npt.NDArray[np.float64]] = {}
        self._typical: dict[tuple[AgeBand, Gender, str], tuple[int, float]] = {}  # → (drift epoch, relevance)
        self._next_drift_mono: float | None = None
        population_rng = np.random.default_rng(population_seed)
        self._behaviour_rng = np.random.default_rng(behaviour_seed)
        self._noise = NoiseStream(self._behaviour_rng)
        self._population = Population(
            population_rng,
            self._tastes,
            attribute_noise=config.attribute_noise,
            unknown_age_share=config.unknown_age_share,
        )
        self._population_rng = population_rng
        self._arrivals = ArrivalProcess(config.arrivals_per_hour, zone, population_rng)
        weights = np.asarray(config.group_size_weights, dtype=float)
        self._size_p = weights / weights.sum()
        self._groups: list[Group] = []
        self._past_groups: list[tuple[Shopper, ...]] = []  # first visits, in order of arrival
        self._past_arrivals: list[float] = []  # when each first visit arrived (sorted)
        self._last_arrivals: list[float] = []  # when each of those groups last arrived
        self._present_shoppers: set[int] = set()
        self._visits: list[VisitRecord] = []
        self._watches: list[WatchRecord] = []
        self._arrival_times: list[float] = []
        self._next_track_id = 1
        self._next_group_id = 1
        self._last_t: float | None = None
        self._missed = 0
        self._notice_p: tuple[float, float, float] = (-1.0, 0.0, 0.0)  # (hazard * dt, alone, with a watcher)

    # -- public -------------------------------------------------------------------------------------------------

    def step(self, t_mono: float, t_utc: datetime, showing: ContentItem | None) -> Observation:
        """Advance to t_mono (one tick after the previous call) and return what the camera pipeline would see."""
        if t_utc.tzinfo is None:
            raise ValueError("VirtualStore.step: t_utc must be timezone-aware")
        last = self._last_t
        if last is not None and t_mono <= last:
            raise ValueError(f"VirtualStore.step: t_mono must increase, got {t_mono} after {last}")
        dt = self.config.tick_s if last is None else t_mono - last
        self._last_t = t_mono
        self._advance_drift(t_mono)
        for arrived in self._arrivals.due(t_mono, t_utc):
            self._groups.append(self._new_group(arrived))
        if not self._groups:
            return Observation(t_mono, t_utc, _EMPTY_TRACKS)

        p_notice = p_follow = 0.0
        if showing is not None:
            hazard = self.config.notice_rate_per_s * dt
            if showing.motion:
                hazard *= self.config.motion_notice_effect
            if hazard != self._notice_p[0]:
                follow = hazard * self.config.group_follow_effect
                self._notice_p = (hazard, -math.expm1(-hazard), -math.expm1(-follow))
            p_notice, p_follow = self._notice_p[1], self._notice_p[2]
        p_glance = -math.expm1(-self._glance_rate_per_s * dt)

        present: list[tuple[Member, Group]] = []
        finished: list[Group] = []
        for group in self._groups:
            self._move(group, dt)
            if self._behave(group, present, t_mono, dt, showing, (p_notice, p_follow), p_glance):
                finished.append(group)
        for group in finished:
            self._finish(group)
        tracks = self._render(present, t_mono, dt) if present else _EMPTY_TRACKS
        return Observation(t_mono, t_utc, tracks)

    def _render(self, present: list[tuple[Member, Group]], t_mono: float, dt: float) -> Tracks:
        """What the camera pipeline reports of the people in view: poses, boxes, sensor misses."""
        n = len(present)
        rng = self._behaviour_rng
        normals = rng.standard_normal((n, 5)).tolist()  # yaw, pitch, roll, box jitter x, y
        missed = (rng.random(n) < self.config.detection_miss_rate).tolist()
        width = self.config.field_width_m
        rows: list[tuple[int, bool, int, Attributes, str]] = []  # per-track: id, returning, group, attributes, key
        geometry: list[tuple[float, ...]] = []  # x1, y1, x2, y2, yaw, pitch, roll: one array for both columns
        directions: list[Direction] = []
        for (member, group), (z1, z2, z3, jx, jy), miss in zip(present, normals, missed, strict=True):
            yaw, pitch, roll, direction = self._pose(member, group, t_mono, z1, z2, z3)
            visit = member.visit
            assert visit is not None
            if yaw == yaw and -FACING_MAX_DEG <= yaw <= FACING_MAX_DEG and -FACING_MAX_DEG <= pitch <= FACING_MAX_DEG:
                visit.facing_s += dt
            if miss:
                self._missed += 1
                continue
            rows.append(member.row)
            box = body_box(
                group.x + member.offset_x,
                group.depth + member.depth_offset,
                member.shopper.height_m,
                width,
                1.5 * jx,
                1.5 * jy,
            )
            gaze = member.gaze.sample(t_mono) if member.gaze is not None and member.episode is not None else _NO_GAZE
            geometry.append((*box, yaw, pitch, roll, *gaze))
            directions.append(direction)
        if not rows:
            return _EMPTY_TRACKS
        ids, returning, group_ids, attributes, person_keys = zip(*rows, strict=True)
        table = np.array(geometry, dtype=np.float32)
        return Tracks(
            ids=np.array(ids, dtype=np.int64),
            boxes=table[:, :4],
            head_pose=table[:, 4:7],
            gaze=table[:, 7:9],
            returning=np.array(returning, dtype=np.bool_),
            group_ids=np.array(group_ids, dtype=np.int64),
            attributes=attributes,
            directions=tuple(directions),
            person_keys=person_keys,
        )

    def truth(self) -> SimTruth:
        """Ground truth so far (a snapshot: later steps do not change it)."""
        shoppers = self._population.shoppers
        visits = []
        for record in self._visits:
            shopper = shoppers[record.shopper_id]
            relevance = {item.item_id: self._relevance(shopper, item) for item in self.items}
            visits.append(record.freeze(relevance))
        return SimTruth(
            t_mono=self._last_t,
            visits=tuple(visits),
            watches=tuple(w.freeze() for w in self._watches),
            group_arrivals_mono=tuple(self._arrival_times),
            shoppers=len(self._population.shoppers),
            missed_detections=self._missed,
        )

    def relevance(self, shopper_id: int, item: ContentItem) -> float:
        """The hidden relevance of an item to a shopper seen so far, with today's drift (for tests and reports)."""
        return self._relevance(self._population.shoppers[shopper_id], item)

    def appeal(self, shopper_id: int, item: ContentItem) -> float:
        """Relevance worn by the novelty lost on earlier watches of the item: what drives watching now."""
        return self._appeal(self._population.shoppers[shopper_id], item)

    def notice_effect(self, item: ContentItem) -> float:
        """How many times as often as a still item this item is noticed."""
        return self.config.motion_notice_effect if item.motion else 1.0

    def notice_within(self, item: ContentItem, seconds: float) -> float:
        """The chance that a shopper free to notice (in view, not watching) notices the item within `seconds` of it
        showing. Motion multiplies the hazard, not this chance: over an 8 s item, a still item is noticed by 47%
        of free viewers, a moving one by 85% (not three times as many)."""
        return -math.expm1(-self.config.notice_rate_per_s * self.notice_effect(item) * max(seconds, 0.0))

    def hold_probability(self, appeal: float) -> float:
        """The chance that noticing an item of this appeal turns into a held watch (not a short look)."""
        config = self.config
        return config.hold_share * (1.0 + (config.relevance_hold_effect - 1.0) * appeal)

    def held_mean_s(self, appeal: float) -> float:
        config = self.config
        return config.base_watch_s * (1.0 + (config.relevance_duration_effect - 1.0) * appeal)

    def expected_watch_s(self, shopper_id: int, item: ContentItem) -> float:
        """Expected seconds of one watch of the item by this shopper once noticed, with their appeal now (tastes,
        drift, worn-off novelty): what an oracle weighs (the engine never sees it)."""
        return self.watch_s_once_noticed(self._appeal(self._population.shoppers[shopper_id], item))

    def typical_expected_watch_s(self, shopper_id: int, item: ContentItem) -> float:
        """As `expected_watch_s`, but with the mean relevance of the shopper's true age band and gender (over
        `TYPICAL_DRAWS` drawn shoppers, drift included) instead of their own: everything an oracle knows except
        the individual taste and personal likes, which no camera feature says."""
        shopper = self._population.shoppers[shopper_id]
        key = (shopper.age_band, shopper.gender, item.item_id)
        cached = self._typical.get(key)
        if cached is None or cached[0] != self._drift_epoch:
            draws = self._typical_draws.get(key[:2])
            if draws is None:
                rows = [self._tastes.draw(self._typical_rng, *key[:2]) for _ in range(TYPICAL_DRAWS)]
                draws = self._typical_draws[key[:2]] = np.stack(rows)
            cached = self._typical[key] = (
                self._drift_epoch,
                self._tastes.typical_relevance(draws, self._drift, shopper.age_band, shopper.gender, item),
            )
        return self.watch_s_once_noticed(self._worn(shopper, item, cached[1]))

    def watch_s_once_noticed(self, appeal: float) -> float:
        """Expected seconds of one watch, once noticed, of an item of this appeal (held or a short look)."""
        p_hold = self.hold_probability(appeal)
        return p_hold * self.held_mean_s(appeal) + (1.0 - p_hold) * 0.5 * (LOOK_S[0] + LOOK_S[1])

    def present_shopper_ids(self) -> tuple[int, ...]:
        """The shoppers in view now (for an oracle that knows the hidden tastes; the engine never sees this)."""
        return tuple(shopper_id for shopper_id, _ in self.present_observed())

    def present_observed(self) -> tuple[tuple[int, Attributes], ...]:
        """Each shopper in view with what perception reports of them (benchmarks teach a learner per viewer with
        it; the engine sees the same attributes, not the shopper ids)."""
        return tuple(
            (m.shopper.shopper_id, m.observed)
            for group in self._groups
            for m in group.members
            if m.visit is not None and not m.gone
        )

    def _advance_drift(self, t_mono: float) -> None:
        sd = self.config.taste_drift_sd
        if sd <= 0.0:
            return
        if self._next_drift_mono is None:
            self._next_drift_mono = t_mono + DRIFT_STEP_S
            return
        while t_mono >= self._next_drift_mono:
            keep = math.exp(-DRIFT_STEP_S / (self.config.taste_drift_days * 86400.0))
            noise = self._drift_rng.standard_normal(len(self._drift))
            self._drift = keep * self._drift + sd * math.sqrt(1.0 - keep * keep) * noise
            self._drift_epoch += 1
            self._next_drift_mono += DRIFT_STEP_S

    # -- arrivals and departures --------------------------------------------------------------------------------

    def _new_group(self, arrived_mono: float) -> Group:
        rng = self._population_rng
        self._arrival_times.append(arrived_mono)
        size = 1 + int(rng.choice(len(self._size_p), p=self._size_p))
        shoppers: tuple[Shopper, ...] | None = None
        # Returning groups come back at least RETURN_AFTER_S after they last arrived: `return_same_trip_share` of
        # them on the same trip (a group whose first pass began at most SAME_TRIP_S ago), the others any group
        # seen before. The choice depends only on arrival times, never on who is in the store, so the population
        # stream does not depend on behaviour (unless a group drawn is somehow still inside after that long: then
        # a new group comes instead).
        u_returning, u_which, u_trip = rng.random(3).tolist()
        eligible = bisect.bisect_right(self._past_arrivals, arrived_mono - RETURN_AFTER_S)
        if u_returning < self.config.returning_share and eligible:
            same_trip = bisect.bisect_left(self._past_arrivals, arrived_mono - SAME_TRIP_S)
            if u_trip < self.config.return_same_trip_share and same_trip < eligible:
                index = same_trip + int(u_which * (eligible - same_trip))
            else:
                index = int(u_which * eligible)
            candidate = self._past_groups[index]
            if arrived_mono - self._last_arrivals[index] >= RETURN_AFTER_S and not any(
                s.shopper_id in self._present_shoppers for s in candidate
            ):
                shoppers = candidate
                self._last_arrivals[index] = arrived_mono
        if shoppers is None:
            roles = ["solo"] if size == 1 else ["leader"] + ["companion"] * (size - 1)
            shoppers = tuple(self._population.new_shopper(role) for role in roles)
            self._past_groups.append(shoppers)
            self._past_arrivals.append(arrived_mono)
            self._last_arrivals.append(arrived_mono)
        group_id = -1
        if len(shoppers) > 1:
            group_id = self._next_group_id
            self._next_group_id += 1
        self._present_shoppers.update(s.shopper_id for s in shoppers)
        return self._population.new_group(
            shoppers,
            group_id=group_id,
            arrived_mono=arrived_mono,
            width_m=self.config.field_width_m,
            speed_m_s=self.config.walk_speed_m_s,
            approach_share=self._approach_share,
            leave_share=self._leave_share,
        )

    def _finish(self, group: Group) -> None:
        self._groups.remove(group)
        self._present_shoppers.difference_update(m.shopper.shopper_id for m in group.members)

    def _enter(self, member: Member, group: Group, t_mono: float) -> VisitRecord:
        shopper = member.shopper
        member.returning = shopper.visits_seen > 0
        # Re-identification only remembers a face for `reid_ttl_s` after it was last seen (the product's privacy
        # default is 30 minutes): a shopper back after longer is a stranger to it, as a new one is.
        remembered = member.returning and t_mono - shopper.last_seen_mono <= self._reid_ttl_s
        member.flagged_returning = member.u_reid < (self._reid_recall if remembered else self._reid_false_positive)
        shopper.visits_seen += 1
        if group.mode is Mode.APPROACH:
            direction = Direction.APPROACHING
        else:
            direction = Direction.LEFT_TO_RIGHT if group.direction > 0 else Direction.RIGHT_TO_LEFT
        visit = VisitRecord(
            track_id=self._next_track_id,
            shopper_id=member.shopper.shopper_id,
            group_id=group.group_id,
            group_size=len(group.members),
            attributes=member.shopper.true_attributes,
            observed=member.observed,
            returning=member.returning,
            flagged_returning=member.flagged_returning,
            direction=direction,
            entered_mono=t_mono,
        )
        self._next_track_id += 1
        self._visits.append(visit)
        member.visit = visit
        # Re-identification keys: a first visit enrols the shopper's key, and so does a return after the embedding
        # was forgotten (a new key: nothing links it to the old one); a recognised return carries the key again; a
        # missed return looks like a new person (a key nobody had before).
        if not remembered:
            shopper.reid_key = f"person-{shopper.shopper_id}" + (f"-{visit.track_id}" if member.returning else "")
        person_key = shopper.reid_key if not remembered or member.flagged_returning else f"unmatched-{visit.track_id}"
        member.row = (visit.track_id, member.flagged_returning, visit.group_id, member.observed, person_key)
        return visit

    def _leave(self, member: Member, t_mono: float) -> None:
        if member.episode is not None:
            self._end_watch(member, t_mono, WatchEnd.DONE)
        assert member.visit is not None
        member.visit.left_mono = t_mono
        member.shopper.last_seen_mono = t_mono
        member.gone = True

    # -- movement and behaviour ---------------------------------------------------------------------------------

    def _move(self, group: Group, dt: float) -> None:
        mode = group.mode
        if mode is Mode.WALK:
            group.x += group.direction * group.speed * dt
        elif mode is Mode.APPROACH:
            group.depth -= 0.7 * group.speed * dt
            if group.depth <= group.near_depth:
                group.depth = group.near_depth
                group.mode = Mode.WALK
                group.direction = group.turn_direction
        elif mode is Mode.LEAVE:
            group.depth += 0.8 * group.speed * dt

    def _relevance(self, shopper: Shopper, item: ContentItem) -> float:
        cache = shopper.relevance_cache
        cached = cache.get(item)
        if cached is not None and cached[0] == self._drift_epoch:
            return cached[1]
        tastes = shopper.tastes + self._drift if self._drift_epoch else shopper.tastes
        value = self._tastes.relevance(tastes, shopper.age_band, shopper.gender, item)
        cache[item] = (self._drift_epoch, value)
        return value

    def _appeal(self, shopper: Shopper, item: ContentItem) -> float:
        return self._worn(shopper, item, self._relevance(shopper, item))

    def _worn(self, shopper: Shopper, item: ContentItem, relevance: float) -> float:
        """Relevance worn by the novelty this shopper lost on earlier watches of the item."""
        seen = shopper.watched.get(item.item_id, 0)
        return relevance * (1.0 - self.config.novelty_wear) ** seen if seen else relevance

    def _behave(
        self,
        group: Group,
        present: list[tuple[Member, Group]],
        t_mono: float,
        dt: float,
        showing: ContentItem | None,
        p_notice: tuple[float, float],
        p_glance: float,
    ) -> bool:
        """Enter, leave, notice, watch, stop watching; append the members in view to `present`.

        Returns True when the whole group has gone.
        """
        width = self.config.field_width_m
        noise = self._noise
        leaving = group.mode is Mode.LEAVE
        remaining = watching = busy = 0  # members not gone, watching, glancing away after watching
        # Companions look at what one of them watches: noticing is likelier while anyone in the group watches.
        followed = len(group.members) > 1 and any(m.episode is not None for m in group.members)
        p_notice_now = p_notice[1] if followed else p_notice[0]
        for member in group.members:
            if member.gone:
                continue
            x = group.x + member.offset_x
            visible = 0.0 <= x <= width and group.depth + member.depth_offset <= MAX_DEPTH_M
            visit = member.visit
            if not visible:
                if visit is not None:
                    self._leave(member, t_mono)
                elif leaving:  # never came into view; now never will
                    member.gone = True
                else:
                    remaining += 1
                continue
            if visit is None:
                visit = self._enter(member, group, t_mono)
            present.append((member, group))
            remaining += 1
            visit.in_view_s += dt
            u_act, u_glance = noise.pair()
            episode = member.episode
            if episode is not None:
                if showing is None:
                    self._end_watch(member, t_mono, WatchEnd.SCREEN_BLANK)
                    self._start_away(member, group, t_mono)
                elif showing.item_id != episode.item_id:
                    reading = member.gaze is not None and member.gaze.mode is GazeMode.READING
                    opened = reading and self._detail_of.get(episode.item_id) == showing.item_id
                    self._end_watch(member, t_mono, WatchEnd.ITEM_CHANGED)
                    relevance = self._appeal(member.shopper, showing)
                    if opened:  # the detail page of what they were reading: they read on
                        self._start_watch(member, showing, t_mono, relevance, noticed=False, reads=True)
                    elif u_act < relevance:
                        self._start_watch(member, showing, t_mono, relevance, noticed=False)
                    else:
                        self._start_away(member, group, t_mono)
                elif t_mono >= member.watch_until:
                    self._end_watch(member, t_mono, WatchEnd.DONE)
                    self._start_away(member, group, t_mono)
            elif (
                showing is not None
                and not leaving
                and t_mono >= member.refractory_until
                and t_mono - group.arrived_mono <= MAX_STAY_S
            ):
                item_id = showing.item_id
                visit.exposure_s[item_id] = visit.exposure_s.get(item_id, 0.0) + dt
                if u_act < p_notice_now:
                    visit.notices[item_id] = visit.notices.get(item_id, 0) + 1
                    appeal = self._appeal(member.shopper, showing)
                    self._start_watch(member, showing, t_mono, appeal, noticed=True)
                elif u_glance < p_glance and t_mono >= member.glance_until:
                    member.glance_until = t_mono + 0.2 + 0.4 * noise.u()
                    member.glance_yaw = 30.0 * noise.u() - 15.0
            if member.episode is not None:
                item_id = member.episode.item_id
                visit.watch_s[item_id] = visit.watch_s.get(item_id, 0.0) + dt
                watching += 1
            elif t_mono < member.away_until:
                busy += 1
        self._update_mode(group, watching > 0, busy > 0)
        return remaining == 0

    def _start_watch(
        self,
        member: Member,
        item: ContentItem,
        t_mono: float,
        relevance: float,
        *,
        noticed: bool,
        reads: bool | None = None,
    ) -> None:
        config = self.config
        held = self._noise.u() < self.hold_probability(relevance)
        if held:
            extra = self.held_mean_s(relevance) - HOLD_MIN_S
            duration = HOLD_MIN_S + min(
                float(self._behaviour_rng.gamma(WATCH_SHAPE, extra / WATCH_SHAPE)), MAX_WATCH_FACTOR * extra
            )
        else:
            duration = LOOK_S[0] + (LOOK_S[1] - LOOK_S[0]) * self._noise.u()
        assert member.visit is not None
        episode = WatchRecord(member.visit.track_id, item.item_id, t_mono, relevance, noticed, held)
        if noticed:
            watched = member.shopper.watched
            watched[item.item_id] = watched.get(item.item_id, 0) + 1
        self._watches.append(episode)
        member.episode = episode
        member.watch_until = t_mono + duration
        member.off_yaw = 16.0 * self._noise.u() - 8.0
        member.off_pitch = 12.0 * self._noise.u() - 6.0
        member.glance_until = 0.0
        gaze_rng = self._gaze_rng
        if reads is None:
            reads = bool(item.detail_id) and float(gaze_rng.random()) < config.reading_share * relevance
        if reads:
            member.watch_until = max(member.watch_until, t_mono + float(gaze_rng.uniform(*READING_S)))
        member.gaze = WatcherGaze(GazeMode.READING if reads else GazeMode.LOOKING, gaze_rng, t_mono)

    def _end_watch(self, member: Member, t_mono: float, end: WatchEnd) -> None:
        episode = member.episode
        assert episode is not None
        episode.end_mono = t_mono
        episode.end = end
        member.episode = None
        member.gaze = None

    def _start_away(self, member: Member, group: Group, t_mono: float) -> None:
        member.away_until = t_mono + 0.3 + 0.5 * self._noise.u()
        member.away_yaw = group.direction * (30.0 + 15.0 * self._noise.u())
        member.refractory_until = t_mono + REFRACTORY_S

    def _update_mode(self, group: Group, watching: bool, busy: bool) -> None:
        """Stop while anyone watches; move on once nobody watches or glances away after watching."""
        if watching:
            if group.mode is Mode.WALK or group.mode is Mode.APPROACH:
                group.resume_mode = group.mode
                group.mode = Mode.STAND
        elif group.mode is Mode.STAND and not busy:
            if group.leaves_after_stop:
                group.mode = Mode.LEAVE
            else:
                group.mode = Mode.WALK
                if group.resume_mode is Mode.APPROACH:
                    group.direction = group.turn_direction

    def _pose(
        self, member: Member, group: Group, t_mono: float, z1: float, z2: float, z3: float
    ) -> tuple[float, float, float, Direction]:
        """Head pose (yaw, pitch, roll in degrees; NaN when no face is seen) and the direction of movement.

        Yaw 0 faces the camera on the screen; a person crossing left to right turns yaw positive.
        """
        mode = group.mode
        if mode is Mode.WALK:
            direction = Direction.LEFT_TO_RIGHT if group.direction > 0 else Direction.RIGHT_TO_LEFT
        elif mode is Mode.APPROACH:
            direction = Direction.APPROACHING
        elif mode is Mode.LEAVE:
            direction = Direction.LEAVING
        else:
            direction = Direction.STANDING
        if member.episode is not None:
            return (
                member.off_yaw + clip(3.0 * z1, 5.0),
                member.off_pitch + clip(3.0 * z2, 5.0),
                4.0 * z3,
                direction,
            )
        if t_mono < member.away_until:
            return member.away_yaw + 4.0 * z1, -4.0 + 3.0 * z2, 3.0 * z3, direction
        if mode is Mode.LEAVE:
            return NAN, NAN, NAN, direction
        if t_mono < member.glance_until:
            return member.glance_yaw + 2.0 * z1, -3.0 + 2.0 * z2, 3.0 * z3, direction
        if mode is Mode.WALK:
            if member.face_hidden_walking:
                return NAN, NAN, NAN, direction
            return group.direction * (member.walk_yaw + 5.0 * z1), -5.0 + 4.0 * z2, 3.0 * z3, direction
        if mode is Mode.APPROACH:
            return member.approach_yaw + 6.0 * z1, -3.0 + 4.0 * z2, 3.0 * z3, direction
        return member.wait_yaw + 5.0 * z1, -3.0 + 3.0 * z2, 3.0 * z3, direction
