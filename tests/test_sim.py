"""The virtual store: determinism, arrivals, valid tracks, and the behaviour effects the engine must learn from."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from signage.config.sim import SimConfig
from signage.sim import (
    FACING_MAX_DEG,
    SimTruth,
    VirtualStore,
    WatchEnd,
    arrival_rate_per_s,
    day_profile,
)
from signage.sim.shoppers import YOUNG_LOOKING
from signage.sim.tastes import TasteModel
from signage.types import AgeBand, ContentItem, ContentKind, Direction, Gender, Observation

ZONE = "Europe/Paris"
COFFEE = ContentItem("coffee", "coffee.png", ContentKind.IMAGE, 8.0, "bean co", "coffee", ("drinks", "hot"))
COFFEE_MOVING = ContentItem(
    "coffee-video", "coffee.mp4", ContentKind.VIDEO, 8.0, "bean co", "coffee", ("drinks", "hot"), motion=True
)
FINANCE = ContentItem("loans", "loans.png", ContentKind.IMAGE, 8.0, "bank", "finance", ("credit",))
TOYS = ContentItem("toys", "toys.mp4", ContentKind.VIDEO, 8.0, "toy shop", "toys", ("kids",), motion=True)
POOL = (COFFEE, COFFEE_MOVING, FINANCE, TOYS)


def local_start(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


@dataclass(frozen=True)
class Run:
    observations: tuple[Observation, ...]
    truth: SimTruth
    config: SimConfig

    def __repr__(self) -> str:  # short, so a failure report does not print an hour of observations
        return f"Run({len(self.observations)} observations, {len(self.truth.visits)} visits, seed {self.config.seed})"


def simulate(
    config: SimConfig,
    *,
    seconds: float,
    showing: Callable[[float], ContentItem | None],
    start_utc: datetime,
    keep: bool = True,
    items: Sequence[ContentItem] = POOL,
    reid_ttl_s: float = math.inf,
) -> Run:
    store = VirtualStore(config, start_utc=start_utc, timezone=ZONE, items=items, reid_ttl_s=reid_ttl_s)
    observations: list[Observation] = []
    for i in range(round(seconds / config.tick_s)):
        t = i * config.tick_s
        obs = store.step(t, start_utc + timedelta(seconds=t), showing(t))
        if keep:
            observations.append(obs)
    return Run(tuple(observations), store.truth(), config)


def rotating(items: Sequence[ContentItem], every_s: float) -> Callable[[float], ContentItem | None]:
    return lambda t: items[int(t // every_s) % len(items)]


@pytest.fixture(scope="module")
def busy() -> Run:
    """A busy lunch hour with the content changing every 8 s."""
    config = SimConfig(seed=11, arrivals_per_hour=900.0, returning_share=0.4)
    return simulate(config, seconds=3600, showing=rotating(POOL, 8.0), start_utc=local_start(12))


@pytest.fixture(scope="module")
def single_item_runs() -> dict[str, Run]:
    """The same shoppers (same seed) in front of one item shown all the time: still, moving, irrelevant.

    Companions do not draw each other's eyes here (`group_follow_effect` 1), so noticing is the item's alone."""
    config = SimConfig(seed=5, arrivals_per_hour=1500.0, tick_s=0.2, group_follow_effect=1.0)
    return {
        item.item_id: simulate(
            config, seconds=3600, showing=rotating([item], 1.0), start_utc=local_start(12), keep=False
        )
        for item in (COFFEE, COFFEE_MOVING, FINANCE)
    }


# -- determinism --------------------------------------------------------------------------------------------------


def _same(a: Observation, b: Observation) -> bool:
    ta, tb = a.tracks, b.tracks
    return (
        a.t_mono == b.t_mono
        and np.array_equal(ta.ids, tb.ids)
        and np.array_equal(ta.boxes, tb.boxes)
        and np.array_equal(ta.head_pose, tb.head_pose, equal_nan=True)
        and np.array_equal(ta.returning, tb.returning)
        and np.array_equal(ta.group_ids, tb.group_ids)
        and ta.attributes == tb.attributes
        and ta.directions == tb.directions
    )


def test_same_seed_same_observations_and_another_seed_differs() -> None:
    config = SimConfig(seed=3, arrivals_per_hour=1200.0)
    runs = [simulate(config, seconds=600, showing=rotating(POOL, 5.0), start_utc=local_start(12)) for _ in range(2)]
    other = simulate(
        config.model_copy(update={"seed": 4}), seconds=600, showing=rotating(POOL, 5.0), start_utc=local_start(12)
    )
    assert sum(len(o.tracks) for o in runs[0].observations) > 1000
    assert all(_same(a, b) for a, b in zip(runs[0].observations, runs[1].observations, strict=True))
    assert runs[0].truth == runs[1].truth
    assert not all(_same(a, b) for a, b in zip(runs[0].observations, other.observations, strict=True))


def test_same_seed_brings_the_same_shoppers_whatever_is_shown(single_item_runs: dict[str, Run]) -> None:
    arrivals = {run.truth.group_arrivals_mono for run in single_item_runs.values()}
    assert len(arrivals) == 1


# -- arrivals -----------------------------------------------------------------------------------------------------


def test_arrivals_follow_the_integral_of_the_rate() -> None:
    config = SimConfig(seed=21, arrivals_per_hour=600.0, tick_s=1.0)
    start = local_start(10)
    hours = 4
    run = simulate(config, seconds=hours * 3600, showing=lambda t: COFFEE, start_utc=start, keep=False)
    zone = ZoneInfo(ZONE)
    rates = [arrival_rate_per_s(600.0, start + timedelta(seconds=s + 0.5), zone) for s in range(hours * 3600)]
    expected = sum(rates)
    arrived = len(run.truth.group_arrivals_mono)
    assert abs(arrived - expected) < 4.0 * math.sqrt(expected), (arrived, expected)
    per_hour = Counter(int(t // 3600) for t in run.truth.group_arrivals_mono)
    assert per_hour[2] > 1.8 * per_hour[0]  # 12:00-13:00 (lunch peak) against 10:00-11:00 (opening)
    for hour in range(hours):
        expected_hour = sum(rates[hour * 3600 : (hour + 1) * 3600])
        assert abs(per_hour[hour] - expected_hour) < 4.0 * math.sqrt(expected_hour) + 1


def test_day_profile_peaks_at_lunch_and_late_afternoon_and_uses_local_time() -> None:
    assert day_profile(12.5) == pytest.approx(1.0)
    assert day_profile(17.75) == pytest.approx(1.0)
    assert day_profile(9.0) < 0.3 < day_profile(12.0)
    assert day_profile(3.0) < 0.05
    zone = ZoneInfo(ZONE)
    # 10:00 UTC is 11:00 in Paris before the spring change of 2024-03-31, and 12:00 after it.
    before = arrival_rate_per_s(3600.0, datetime(2024, 3, 30, 10, 0, tzinfo=UTC), zone)
    after = arrival_rate_per_s(3600.0, datetime(2024, 3, 31, 10, 0, tzinfo=UTC), zone)
    assert before == pytest.approx(day_profile(11.0))
    assert after == pytest.approx(day_profile(12.0))


def test_no_arrivals_at_zero_rate() -> None:
    run = simulate(SimConfig(arrivals_per_hour=0.0), seconds=60, showing=lambda t: COFFEE, start_utc=local_start(12))
    assert not run.truth.visits
    assert all(len(o.tracks) == 0 for o in run.observations)


# -- the observations ---------------------------------------------------------------------------------------------


def test_tracks_are_valid_inside_the_frame_and_unique(busy: Run) -> None:
    rows = 0
    for obs in busy.observations:
        tracks = obs.tracks
        rows += len(tracks)
        assert len(set(tracks.ids.tolist())) == len(tracks)
        boxes = tracks.boxes
        assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 2] <= 640)
        assert np.all(boxes[:, 1] >= 0) and np.all(boxes[:, 3] <= 480)
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        nan = np.isnan(tracks.head_pose)
        assert np.all(nan.all(axis=1) | ~nan.any(axis=1)), "a head pose row is all NaN or all numbers"
        for direction, pose_missing in zip(tracks.directions, nan[:, 0], strict=True):
            if direction is Direction.LEAVING:
                assert pose_missing
    assert rows > 20_000


def test_people_enter_and_leave(busy: Run) -> None:
    truth = busy.truth
    end = busy.observations[-1].t_mono
    seen: dict[int, list[float]] = defaultdict(list)
    for obs in busy.observations:
        for track_id in obs.tracks.ids.tolist():
            seen[track_id].append(obs.t_mono)
    visits = {v.track_id: v for v in truth.visits}
    assert len(visits) > 1000
    assert set(seen) <= set(visits)
    assert len(seen) >= 0.99 * len(visits)
    still_in = [v for v in truth.visits if v.left_mono is None]
    assert len(still_in) <= 40
    for track_id, times in seen.items():
        visit = visits[track_id]
        left = visit.left_mono if visit.left_mono is not None else end + 1.0
        assert visit.entered_mono <= times[0] and times[-1] < left
    dwell = [v.left_mono - v.entered_mono for v in truth.visits if v.left_mono is not None]
    assert max(dwell) < 300.0
    crossing = [d for v, d in zip(truth.visits, dwell, strict=False) if v.watch_total_s == 0]
    assert crossing and min(dwell) > 0
    # Nobody is missed for long: the sensor drops single ticks, the same id comes back.
    assert truth.missed_detections > 0


def test_groups_share_an_id_and_people_alone_have_none(busy: Run) -> None:
    by_group: dict[int, list[int]] = defaultdict(list)
    for visit in busy.truth.visits:
        if visit.group_id == -1:
            assert visit.group_size == 1
        else:
            assert visit.group_size >= 2
            by_group[visit.group_id].append(visit.track_id)
    assert by_group
    assert sum(len(members) >= 2 for members in by_group.values()) > 0.8 * len(by_group)


def test_faces_watching_the_screen_face_it_and_walkers_do_not(busy: Run) -> None:
    episodes: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for watch in busy.truth.watches:
        end = watch.end_mono if watch.end_mono is not None else math.inf
        episodes[watch.track_id].append((watch.start_mono, end))
    watching_rows = 0
    walking_rows = walking_facing = 0
    for obs in busy.observations:
        t = obs.t_mono
        tracks = obs.tracks
        for track_id, (yaw, pitch, _), direction in zip(
            tracks.ids.tolist(), tracks.head_pose.tolist(), tracks.directions, strict=True
        ):
            if any(start <= t < end for start, end in episodes.get(track_id, ())):
                watching_rows += 1
                assert direction is Direction.STANDING
                assert abs(yaw) < FACING_MAX_DEG and abs(pitch) < FACING_MAX_DEG
            elif direction in (Direction.LEFT_TO_RIGHT, Direction.RIGHT_TO_LEFT):
                walking_rows += 1
                walking_facing += abs(yaw) < FACING_MAX_DEG  # NaN compares False
    assert watching_rows > 10_000
    assert walking_facing < 0.05 * walking_rows


def test_returning_shoppers_are_flagged_with_new_ids(busy: Run) -> None:
    visits = busy.truth.visits
    returning = [v for v in visits if v.returning]
    new = [v for v in visits if not v.returning]
    assert len(returning) > 200
    assert 0.84 < sum(v.flagged_returning for v in returning) / len(returning) < 0.96
    assert sum(v.flagged_returning for v in new) / len(new) < 0.03
    first_visit: dict[int, float] = {}
    for visit in sorted(visits, key=lambda v: v.entered_mono):
        if visit.shopper_id in first_visit:
            assert visit.returning
        else:
            assert not visit.returning
            first_visit[visit.shopper_id] = visit.entered_mono
    by_shopper = defaultdict(list)
    for visit in visits:
        by_shopper[visit.shopper_id].append(visit)
    for same in by_shopper.values():
        assert len({v.track_id for v in same}) == len(same)
        assert len({v.attributes for v in same}) == 1
    flagged = {v.track_id for v in visits if v.flagged_returning}
    for obs in busy.observations:
        for track_id, flag in zip(obs.tracks.ids.tolist(), obs.tracks.returning.tolist(), strict=True):
            assert flag == (track_id in flagged)


def _returns(run: Run) -> list[tuple[float, float, bool, str, str, bool]]:
    """Per return of a shopper: (seconds since they were last seen, since their first pass began, flagged,
    re-identification key now, the key enrolled for them before (a missed return's key is one nobody keeps), whether
    the key now was never seen before)."""
    keys: dict[int, str] = {}
    for obs in run.observations:
        keys.update(zip(obs.tracks.ids.tolist(), obs.tracks.person_keys, strict=True))
    before: dict[int, tuple[float, float, str]] = {}  # shopper → (first entered, last left, last key)
    seen_keys: set[str] = set()
    returns = []
    for visit in sorted(run.truth.visits, key=lambda v: v.entered_mono):
        key = keys.get(visit.track_id, "")
        fresh = key not in seen_keys
        seen_keys.add(key)
        left = math.inf if visit.left_mono is None else visit.left_mono
        if visit.shopper_id in before:
            first, last_left, last_key = before[visit.shopper_id]
            since_seen, since_first = visit.entered_mono - last_left, visit.entered_mono - first
            returns.append((since_seen, since_first, visit.flagged_returning, key, last_key, fresh))
            before[visit.shopper_id] = (first, left, last_key if key.startswith("unmatched-") else key)
        else:
            before[visit.shopper_id] = (visit.entered_mono, left, key)
    return returns


def test_reidentification_forgets_after_its_time_to_live_and_gives_a_new_key() -> None:
    """As the product's re-identification does: a shopper back within `reid_ttl_s` of last being seen is flagged
    (at the recall rate) and keeps their key; one back later is a stranger, flagged only as often as a new shopper
    and under a key never used before, so no memory of what they watched follows them."""
    config = SimConfig(seed=12, arrivals_per_hour=900.0, returning_share=0.5, tick_s=0.2)
    run = simulate(config, seconds=2 * 3600, showing=rotating(POOL, 8.0), start_utc=local_start(12), reid_ttl_s=900)
    returns = _returns(run)
    remembered = [r for r in returns if r[0] <= 900]
    forgotten = [r for r in returns if r[0] > 900]
    assert len(remembered) > 100 and len(forgotten) > 100
    assert 0.84 < sum(r[2] for r in remembered) / len(remembered) < 0.96
    assert sum(r[2] for r in forgotten) / len(forgotten) < 0.04
    assert all(r[3] == r[4] for r in remembered if r[2])  # a recognised return keeps its key
    assert all(r[3].startswith("person-") and r[5] for r in forgotten)  # enrolled afresh


def test_a_share_of_returns_is_a_second_pass_on_the_same_trip() -> None:
    shares = {}
    for trip_share in (0.0, 0.8):
        config = SimConfig(
            seed=12, arrivals_per_hour=900.0, returning_share=0.5, tick_s=0.2, return_same_trip_share=trip_share
        )
        returns = _returns(simulate(config, seconds=2 * 3600, showing=rotating(POOL, 8.0), start_utc=local_start(12)))
        shares[trip_share] = sum(r[1] <= 1800 + 120 for r in returns) / len(returns)
    assert shares[0.8] > 0.75  # a second pass comes 10-30 min after the first began (+ the time to walk into view)
    assert shares[0.0] < shares[0.8] - 0.3


def test_attribute_noise_and_confidences(busy: Run) -> None:
    visits = busy.truth.visits
    known = [v for v in visits if v.observed.age_band is not AgeBand.UNKNOWN]
    wrong_age = [v for v in known if v.observed.age_band is not v.attributes.age_band]
    right_age = [v for v in known if v.observed.age_band is v.attributes.age_band]
    assert 0.11 < len(wrong_age) / len(known) < 0.19  # attribute_noise 0.15
    assert np.mean([v.observed.age_confidence for v in wrong_age]) < np.mean(
        [v.observed.age_confidence for v in right_age]
    )
    wrong_gender = sum(v.observed.gender is not v.attributes.gender for v in visits) / len(visits)
    assert 0.11 < wrong_gender < 0.19
    unknown = [v for v in visits if v.observed.age_band is AgeBand.UNKNOWN]
    assert unknown and all(v.attributes.age_band in YOUNG_LOOKING for v in unknown)
    assert len(unknown) < 0.1 * len(visits)
    near = [v.observed.age_confidence for v in right_age if v.direction is not Direction.APPROACHING]
    far = [v.observed.age_confidence for v in right_age if v.direction is Direction.APPROACHING]
    assert np.mean(far) < np.mean(near)


# -- behaviour ----------------------------------------------------------------------------------------------------


def _hazard(run: Run, item: ContentItem) -> float:
    """Noticing hazard per second, from notices per tick of exposure (discrete-time estimate)."""
    notices = sum(v.notices.get(item.item_id, 0) for v in run.truth.visits)
    exposure = sum(v.exposure_s.get(item.item_id, 0.0) for v in run.truth.visits)
    assert notices > 1000
    per_tick = notices / (exposure / run.config.tick_s)
    return -math.log1p(-per_tick) / run.config.tick_s


def test_motion_is_noticed_more_often(single_item_runs: dict[str, Run]) -> None:
    still = _hazard(single_item_runs[COFFEE.item_id], COFFEE)
    moving = _hazard(single_item_runs[COFFEE_MOVING.item_id], COFFEE_MOVING)
    config = single_item_runs[COFFEE.item_id].config
    assert still == pytest.approx(config.notice_rate_per_s, rel=0.1)
    assert moving / still == pytest.approx(config.motion_notice_effect, rel=0.12)


def test_relevant_items_hold_attention_more_often(single_item_runs: dict[str, Run]) -> None:
    """A noticed item holds attention (a watch past the hold time) with probability hold_share * (1 + (effect - 1)
    * appeal): a fully appealing item relevance_hold_effect times as often as an irrelevant one."""
    config = single_item_runs[COFFEE.item_id].config
    episodes = [
        (w.relevance, w.held, w.duration_s)
        for run in (single_item_runs[COFFEE.item_id], single_item_runs[FINANCE.item_id])
        for w in run.truth.watches
        if w.noticed and w.duration_s is not None
    ]
    assert len(episodes) > 1500
    appeal = np.array([a for a, _, _ in episodes])
    held = np.array([h for _, h, _ in episodes], dtype=float)
    low, high = appeal < 0.2, appeal > 0.8
    assert low.sum() > 300 and high.sum() > 150  # personal likes make some items highly relevant to some people
    effect = config.relevance_hold_effect

    def model(mask: np.ndarray) -> float:
        return float(np.mean(config.hold_share * (1 + (effect - 1) * appeal[mask])))

    assert held[low].mean() == pytest.approx(model(low), rel=0.15)
    assert held[high].mean() == pytest.approx(model(high), rel=0.15)
    # The measured effect, extrapolated to appeal 0 and 1 by a straight line through the data, is the configured one.
    slope, intercept = np.polyfit(appeal, held, 1)
    assert (intercept + slope) / intercept == pytest.approx(effect, rel=0.2)
    # Held watches last past the audience stage's hold time (3 s); the others are short looks (watchers, not held).
    done = [(h, d) for _, h, d in episodes if d is not None]
    assert min(d for h, d in done if h) >= 3.0 - 1e-9
    looks = [d for h, d in done if not h]
    assert np.percentile(looks, 90) < 3.0


def test_companions_draw_each_others_eyes() -> None:
    """While one member of a group watches, the others notice group_follow_effect times as often."""

    def hazards(effect: float) -> tuple[float, float]:
        config = SimConfig(seed=4, arrivals_per_hour=1500.0, tick_s=0.2, group_follow_effect=effect)
        run = simulate(config, seconds=3600, showing=rotating([COFFEE], 1.0), start_utc=local_start(12), keep=False)
        out = []
        for grouped in (False, True):
            visits = [v for v in run.truth.visits if (v.group_size > 1) is grouped]
            notices = sum(v.notices.get(COFFEE.item_id, 0) for v in visits)
            exposure = sum(v.exposure_s.get(COFFEE.item_id, 0.0) for v in visits)
            assert notices > 150
            out.append(notices / exposure)
        return out[0], out[1]

    solo_off, group_off = hazards(1.0)
    solo_on, group_on = hazards(3.0)
    assert group_off == pytest.approx(solo_off, rel=0.25)  # no effect: groups notice like people alone
    assert solo_on == pytest.approx(solo_off, rel=0.25)  # people alone are not affected (sampling noise only)
    assert group_on / solo_on > 1.4 * group_off / solo_off


def test_novelty_wears_off_per_viewer_and_item() -> None:
    """Each earlier watch of an item by the same shopper multiplies its appeal by (1 - novelty_wear): a returning
    viewer holds an item far less often the next time, while other items keep their appeal."""
    config = SimConfig(
        seed=6, arrivals_per_hour=1200.0, returning_share=0.7, taste_drift_sd=0.0, novelty_wear=0.5, tick_s=0.2
    )
    run = simulate(config, seconds=7200, showing=rotating([TOYS], 1.0), start_utc=local_start(12), keep=False)
    shopper_of = {v.track_id: v.shopper_id for v in run.truth.visits}
    by_shopper: dict[int, list[tuple[float, float, bool]]] = defaultdict(list)
    for w in run.truth.watches:
        if w.noticed:
            by_shopper[shopper_of[w.track_id]].append((w.start_mono, w.relevance, w.held))
    first, again = [], []
    for episodes in by_shopper.values():
        episodes.sort()
        for k, (_, appeal, held) in enumerate(episodes):
            assert appeal == pytest.approx(episodes[0][1] * 0.5**k)
            (first if k == 0 else again).append((appeal, held))
    assert len(again) > 100
    assert np.mean([a for a, _ in again]) < 0.6 * np.mean([a for a, _ in first])
    assert np.mean([h for _, h in again]) < np.mean([h for _, h in first])


def test_tastes_depend_on_demographics() -> None:
    model = TasteModel(POOL)
    rng = np.random.default_rng(0)

    def mean_relevance(age: AgeBand, item: ContentItem) -> float:
        return float(
            np.mean(
                [model.relevance(model.draw(rng, age, Gender.FEMALE), age, Gender.FEMALE, item) for _ in range(400)]
            )
        )

    assert mean_relevance(AgeBand.CHILD, TOYS) > mean_relevance(AgeBand.ADULT, TOYS) + 0.2
    assert mean_relevance(AgeBand.ADULT, COFFEE) > mean_relevance(AgeBand.CHILD, COFFEE) + 0.2
    assert mean_relevance(AgeBand.SENIOR, FINANCE) < mean_relevance(AgeBand.ADULT, FINANCE) - 0.1
    unseen = ContentItem("tea", "tea.png", ContentKind.IMAGE, 5.0, "leaf", "tea", ("organic",))
    tastes = model.draw(rng, AgeBand.ADULT, Gender.MALE)
    value = model.relevance(tastes, AgeBand.ADULT, Gender.MALE, unseen)
    assert 0.0 < value < 1.0
    assert value == model.relevance(tastes, AgeBand.ADULT, Gender.MALE, unseen)


def test_demographic_scale_and_bias_set_how_much_bands_say_and_how_many_items_matter() -> None:
    """Scaled down, age band and gender separate tastes less; a lower bias leaves fewer items relevant."""
    rng = np.random.default_rng(3)

    def mean_relevance(model: TasteModel, age: AgeBand, item: ContentItem) -> float:
        draws = [model.draw(rng, age, Gender.FEMALE) for _ in range(600)]
        return float(np.mean([model.relevance(t, age, Gender.FEMALE, item) for t in draws]))

    def toy_gap(model: TasteModel) -> float:
        return mean_relevance(model, AgeBand.CHILD, TOYS) - mean_relevance(model, AgeBand.ADULT, TOYS)

    plain, faint = TasteModel(POOL), TasteModel(POOL, demographic_scale=0.3)
    assert toy_gap(faint) < 0.5 * toy_gap(plain)
    assert TasteModel(POOL, demographic_scale=0.0).mean("category:toys", AgeBand.CHILD, Gender.MALE) == 0.0
    assert faint.mean("bias", AgeBand.CHILD, Gender.MALE) == plain.mean("bias", AgeBand.CHILD, Gender.MALE)
    picky = TasteModel(POOL, bias=-3.0)
    assert mean_relevance(picky, AgeBand.ADULT, COFFEE) < mean_relevance(plain, AgeBand.ADULT, COFFEE) - 0.1
    with pytest.raises(ValueError, match="demographic_scale"):
        TasteModel(POOL, demographic_scale=-1.0)


def test_the_chance_to_notice_an_item_while_it_shows_saturates() -> None:
    """What the oracle weighs: motion multiplies the hazard of noticing, not the chance over a whole item."""
    config = SimConfig(seed=1, notice_rate_per_s=0.08, motion_notice_effect=3.0)
    store = VirtualStore(config, start_utc=local_start(12), timezone=ZONE, items=POOL, reid_ttl_s=1800.0)
    assert store.notice_within(COFFEE, 0.0) == 0.0
    assert store.notice_within(COFFEE, 8.0) == pytest.approx(1.0 - math.exp(-0.64))
    assert store.notice_within(COFFEE_MOVING, 8.0) == pytest.approx(1.0 - math.exp(-1.92))
    assert store.notice_within(COFFEE_MOVING, 8.0) / store.notice_within(COFFEE, 8.0) < 2.0
    assert store.notice_within(COFFEE_MOVING, 0.05) / store.notice_within(COFFEE, 0.05) == pytest.approx(3.0, abs=0.02)


def test_typical_relevance_is_the_mean_over_drawn_shoppers_of_a_demographic() -> None:
    """What the typical-taste oracle weighs: the mean of each drawn shopper's own relevance, drift included; items
    unknown to the pool use the demographic mean."""
    model = TasteModel(POOL)
    rng = np.random.default_rng(1)
    draws = np.stack([model.draw(rng, AgeBand.CHILD, Gender.MALE) for _ in range(50)])
    drift = np.full(len(model.features), 0.3)
    unseen = ContentItem("tea", "tea.png", ContentKind.IMAGE, 5.0, "leaf", "tea", ("organic",))
    for item in (*POOL, unseen):
        own = [model.relevance(row + drift, AgeBand.CHILD, Gender.MALE, item) for row in draws]
        typical = model.typical_relevance(draws, drift, AgeBand.CHILD, Gender.MALE, item)
        assert typical == pytest.approx(float(np.mean(own)))
    child = model.typical_relevance(draws, drift * 0, AgeBand.CHILD, Gender.MALE, TOYS)
    assert child > model.typical_relevance(draws, drift * 0, AgeBand.CHILD, Gender.MALE, FINANCE) + 0.2


def test_typical_expectation_ignores_own_taste_but_not_demographics_or_wear() -> None:
    """Two shoppers of the same age band and gender get the same typical expectation, whatever their own tastes;
    an item they watched before is worth less to them (novelty wear), as for the full oracle."""
    config = SimConfig(seed=4, arrivals_per_hour=1200.0, returning_share=0.5, novelty_wear=0.5, tick_s=0.2)
    start = local_start(12)
    store = VirtualStore(config, start_utc=start, timezone=ZONE, items=POOL, reid_ttl_s=1800.0)
    for k in range(1, 3001):
        store.step(0.2 * k, start + timedelta(seconds=0.2 * k), TOYS)
    truth = store.truth()
    watched = {v.shopper_id for v in truth.visits for w in truth.watches if w.track_id == v.track_id and w.noticed}
    by_group: dict[tuple[AgeBand, Gender], list[int]] = defaultdict(list)
    for visit in truth.visits:
        ids = by_group[(visit.attributes.age_band, visit.attributes.gender)]
        if visit.shopper_id not in watched and visit.shopper_id not in ids:
            ids.append(visit.shopper_id)
    a, b = next(ids for ids in by_group.values() if len(ids) >= 2)[:2]
    assert store.expected_watch_s(a, COFFEE) != store.expected_watch_s(b, COFFEE)  # own tastes differ
    assert store.typical_expected_watch_s(a, COFFEE) == store.typical_expected_watch_s(b, COFFEE)
    demographic = {v.shopper_id: (v.attributes.age_band, v.attributes.gender) for v in truth.visits}
    worn = next(i for i in sorted(watched) if by_group[demographic[i]])
    fresh = by_group[demographic[worn]][0]
    assert store.typical_expected_watch_s(worn, TOYS) < store.typical_expected_watch_s(fresh, TOYS)
    assert store.typical_expected_watch_s(worn, COFFEE) == store.typical_expected_watch_s(fresh, COFFEE)


def test_the_shoppers_in_view_come_with_what_perception_reports_of_them() -> None:
    """`present_observed` (for benchmarks that teach per viewer): the shoppers in view, each with the attributes
    the camera pipeline reports on their track."""
    config = SimConfig(seed=5, arrivals_per_hour=600.0, tick_s=0.2)
    start = local_start(12)
    store = VirtualStore(config, start_utc=start, timezone=ZONE, items=POOL, reid_ttl_s=1800.0)
    busy_steps = 0
    for k in range(1, 1501):
        observation = store.step(0.2 * k, start + timedelta(seconds=0.2 * k), TOYS)
        present = store.present_observed()
        assert tuple(i for i, _ in present) == store.present_shopper_ids()
        assert set(observation.tracks.attributes) <= {attributes for _, attributes in present}
        busy_steps += len(present) >= 2
    assert busy_steps > 100


def test_item_changes_make_viewers_decide_again(busy: Run) -> None:
    watches = busy.truth.watches
    changed = [w for w in watches if w.end is WatchEnd.ITEM_CHANGED]
    stayed = [w for w in watches if not w.noticed]
    assert len(changed) > 300 and len(stayed) > 50
    ends = {(w.track_id, w.end_mono) for w in changed}
    assert all((w.track_id, w.start_mono) in ends for w in stayed)
    assert len(stayed) < len(changed)
    per_visit = Counter(w.track_id for w in watches if w.noticed)
    assert max(per_visit.values()) >= 2  # watching can happen more than once per visit


def test_nothing_on_screen_is_not_watched() -> None:
    config = SimConfig(seed=2, arrivals_per_hour=1500.0)
    run = simulate(config, seconds=900, showing=lambda t: COFFEE_MOVING if t < 450 else None, start_utc=local_start(12))
    watches = run.truth.watches
    assert all(w.start_mono < 450 for w in watches)
    assert any(w.end is WatchEnd.SCREEN_BLANK and w.end_mono == pytest.approx(450) for w in watches)
    assert all(w.end is not WatchEnd.OPEN for w in watches)


def test_bad_arguments_are_rejected() -> None:
    config = SimConfig()
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualStore(config, start_utc=datetime(2024, 1, 1), timezone=ZONE, items=POOL)
    with pytest.raises(ValueError, match="time zone"):
        VirtualStore(config, start_utc=local_start(12), timezone="Mars/Olympus", items=POOL)
    store = VirtualStore(config, start_utc=local_start(12), timezone=ZONE, items=POOL)
    store.step(1.0, local_start(12), COFFEE)
    with pytest.raises(ValueError, match="increase"):
        store.step(1.0, local_start(12), COFFEE)
