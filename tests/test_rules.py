"""Operator rules, table by table: schedules across DST, caps, kill switches, restricted content, no repeat,
pacing, the fallback, and the true propensities of the Decider's arm mixing."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from signage.config import ConfigError, parse_config
from signage.config.rules import RulesConfig
from signage.decision import Decider, RoundRobinPolicy, build_context
from signage.decision.history import DeliveryHistory
from signage.decision.rules import RulesError, RuleSet, apply_rules
from signage.types import (
    AgeBand,
    Attributes,
    AudienceSnapshot,
    ContentItem,
    ContentKind,
    Context,
    Decision,
    Direction,
    Viewer,
    ViewerStatus,
)

TZ = "Europe/Berlin"


def item(item_id: str, *, advertiser: str = "adv", category: str = "misc", restricted: bool = False) -> ContentItem:
    return ContentItem(item_id, "", ContentKind.TEXT, 10.0, advertiser, category, restricted=restricted, title=item_id)


POOL = (
    item("coffee", advertiser="Bean", category="food"),
    item("bread", advertiser="Market", category="food"),
    item("app", advertiser="Market", category="store"),
    item("wine", advertiser="Cellar", category="alcohol"),  # restricted through its category only
    item("card", advertiser="Bank", category="finance", restricted=True),
    item("news", advertiser="Paper", category="politics"),
    item("hours", advertiser="Market", category="store"),
)


def viewer(viewer_id: str = "v1", band: AgeBand = AgeBand.ADULT) -> Viewer:
    return Viewer(
        viewer_id=viewer_id,
        track_id=1,
        status=ViewerStatus.WATCHER,
        first_seen_mono=0.0,
        last_seen_mono=2.0,
        dwell_s=2.0,
        attention_s=1.5,
        facing=True,
        facing_streak_s=1.5,
        attributes=Attributes(age_band=band, age_confidence=0.9),
        returning=False,
        direction=Direction.STANDING,
        group_size=1,
        is_passer_by=True,
        is_watcher=True,
    )


def snap(t: datetime, *viewers: Viewer, camera_ok: bool = True) -> AudienceSnapshot:
    return AudienceSnapshot(t_mono=0.0, t_utc=t, viewers=viewers, camera_ok=camera_ok)


def ctx(t: datetime, *viewers: Viewer, camera_ok: bool = True) -> Context:
    return build_context(snap(t, *viewers, camera_ok=camera_ok), TZ)


def rules(**data: Any) -> RuleSet:
    return RuleSet.compile(RulesConfig.model_validate(data), POOL, timezone=TZ, fallback_item="hours")


def eligible_ids(rule_set: RuleSet, context: Context, history: DeliveryHistory | None = None) -> set[str]:
    history = history or DeliveryHistory(timezone=TZ)
    return {i.item_id for i in apply_rules(POOL, rule_set, context, history).eligible}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- schedules and dayparts, on the store's wall clock ---------------------------------------------------------
SPRING = "2026-03-29"  # Berlin: 02:00 CET -> 03:00 CEST (a Sunday)
FALL = "2026-10-25"  # Berlin: 03:00 CEST -> 02:00 CET (a Sunday)


@pytest.mark.parametrize(
    ("window", "t_utc", "allowed"),
    [
        ({"start": "02:00", "end": "02:30"}, f"{SPRING}T00:59:59", False),  # 01:59:59 CET
        ({"start": "02:00", "end": "02:30"}, f"{SPRING}T01:00:00", False),  # 03:00 CEST: 02:xx never happened
        ({"start": "01:00", "end": "03:00"}, f"{SPRING}T00:30:00", True),  # 01:30 CET
        ({"start": "01:00", "end": "03:00"}, f"{SPRING}T01:00:00", False),  # 03:00 CEST: the window lasted 1 h
        ({"start": "03:00", "end": "04:00"}, f"{SPRING}T01:00:00", True),  # 03:00 CEST
        ({"start": "02:00", "end": "03:00"}, f"{FALL}T00:30:00", True),  # 02:30 CEST, first time
        ({"start": "02:00", "end": "03:00"}, f"{FALL}T01:30:00", True),  # 02:30 CET, the repeated hour
        ({"start": "02:00", "end": "03:00"}, f"{FALL}T02:00:00", False),  # 03:00 CET
        ({"start": "09:00", "end": "10:00"}, "2026-07-01T07:30:00", True),  # summer: UTC+2
        ({"start": "09:00", "end": "10:00"}, "2026-01-07T07:30:00", False),  # winter: 08:30 local
        ({"start": "09:00", "end": "10:00"}, "2026-01-07T08:30:00", True),
        ({"days": ["fri"], "start": "22:00", "end": "02:00"}, "2026-03-06T21:00:00", True),  # Fri 22:00
        ({"days": ["fri"], "start": "22:00", "end": "02:00"}, "2026-03-07T00:59:00", True),  # Sat 01:59, Fri's window
        ({"days": ["fri"], "start": "22:00", "end": "02:00"}, "2026-03-07T01:00:00", False),  # Sat 02:00
        ({"days": ["fri"], "start": "22:00", "end": "02:00"}, "2026-03-06T00:30:00", False),  # Fri 01:30: Thu's
        ({"days": ["sat", "sun"]}, "2026-03-07T12:00:00", True),
        ({"days": ["sat", "sun"]}, "2026-03-09T12:00:00", False),
    ],
)
def test_schedule_windows_follow_the_local_wall_clock(window: dict[str, Any], t_utc: str, allowed: bool) -> None:
    rule_set = rules(dayparts={"slot": [window]}, items={"coffee": {"dayparts": ["slot"]}})
    assert ("coffee" in eligible_ids(rule_set, ctx(utc(t_utc)))) == allowed


@pytest.mark.parametrize(
    ("t_utc", "allowed"),
    [
        ("2026-02-28T22:59:59", False),  # 23:59:59 CET on Feb 28
        ("2026-02-28T23:00:00", True),  # 00:00 CET on Mar 1: the first local date
        ("2026-03-31T21:59:59", True),  # 23:59:59 CEST on Mar 31: the last local date
        ("2026-03-31T22:00:00", False),  # 00:00 CEST on Apr 1
    ],
)
def test_flight_dates_are_local_dates(t_utc: str, allowed: bool) -> None:
    rule_set = rules(advertisers={"Bean": {"start_date": "2026-03-01", "end_date": "2026-03-31"}})
    assert ("coffee" in eligible_ids(rule_set, ctx(utc(t_utc)))) == allowed


@pytest.mark.parametrize(
    ("dates", "t_utc", "allowed"),
    [
        ({"end_date": "2026-03-06"}, "2026-03-07T00:30:00", True),  # Sat 01:30: Friday's window, in the flight
        ({"end_date": "2026-03-06"}, "2026-03-13T21:30:00", False),  # the next Friday's window: after the flight
        ({"start_date": "2026-03-07"}, "2026-03-07T00:30:00", False),  # Sat 01:30: Friday's, before the flight
        ({"start_date": "2026-03-07"}, "2026-03-13T21:30:00", True),
    ],
)
def test_a_window_after_midnight_keeps_the_dates_of_the_day_it_started(
    dates: dict[str, str], t_utc: str, allowed: bool
) -> None:
    late = {"days": ["fri"], "start": "22:00", "end": "02:00"}
    rule_set = rules(dayparts={"late": [late]}, items={"coffee": {"dayparts": ["late"], **dates}})
    assert ("coffee" in eligible_ids(rule_set, ctx(utc(t_utc)))) == allowed


# -- caps --------------------------------------------------------------------------------------------------------
def test_hourly_cap_is_a_rolling_hour_and_covers_an_advertiser() -> None:
    rule_set = rules(items={"coffee": {"max_plays_per_hour": 2}}, advertisers={"Market": {"max_plays_per_hour": 3}})
    history = DeliveryHistory(timezone=TZ)
    t0 = utc("2026-05-04T08:00:00")
    history.started("coffee", t0)
    history.started("coffee", t0 + timedelta(minutes=50))
    for item_id in ("bread", "app", "bread"):
        history.started(item_id, t0 + timedelta(minutes=55))
    result = apply_rules(POOL, rule_set, ctx(t0 + timedelta(minutes=59)), history)
    assert result.excluded["coffee"].startswith("cap: 2 plays per hour (item coffee)")
    assert {"bread", "app", "hours"} <= set(result.excluded)  # the advertiser's three plays cap all its items
    later = ctx(t0 + timedelta(minutes=60, seconds=1))  # the first coffee play left the rolling hour
    assert "coffee" in eligible_ids(rule_set, later, history)


def test_daily_cap_resets_at_local_midnight() -> None:
    rule_set = rules(items={"coffee": {"max_plays_per_day": 1}})
    history = DeliveryHistory(timezone=TZ)
    history.started("coffee", utc("2026-01-10T08:00:00"))
    assert "coffee" not in eligible_ids(rule_set, ctx(utc("2026-01-10T22:59:00")), history)  # 23:59 CET
    assert "coffee" in eligible_ids(rule_set, ctx(utc("2026-01-10T23:00:00")), history)  # 00:00 CET next day


# -- kill switches, blocked and restricted categories -------------------------------------------------------------
NOON = utc("2026-05-04T10:00:00")


@pytest.mark.parametrize(
    ("data", "gone", "reason"),
    [
        ({"items": {"coffee": {"killed": True}}}, {"coffee"}, "killed (item coffee)"),
        ({"advertisers": {"Market": {"killed": True}}}, {"bread", "app", "hours"}, "killed (advertiser Market)"),
        ({"categories": {"food": {"killed": True}}}, {"coffee", "bread"}, "killed (category food)"),
        ({"blocked_categories": ["politics"]}, {"news"}, "blocked category politics"),
    ],
)
def test_kill_switches_and_blocked_categories(data: dict[str, Any], gone: set[str], reason: str) -> None:
    if "advertisers" in data:  # the fallback belongs to Market; a killed fallback is refused (tested below)
        rule_set = RuleSet.compile(RulesConfig.model_validate(data), POOL, timezone=TZ, fallback_item="coffee")
    else:
        rule_set = rules(**data)
    result = apply_rules(POOL, rule_set, ctx(NOON, viewer()), DeliveryHistory(timezone=TZ))
    assert gone == {i for i, why in result.excluded.items() if why == reason}
    assert not gone & {i.item_id for i in result.eligible}


def test_screen_kill_switch_shows_only_the_fallback() -> None:
    decider = Decider(_Softmax(), POOL, timezone=TZ, fallback_item="hours", rules=RulesConfig(screen_killed=True))
    for _ in range(20):
        choice = decider.decide(snap(NOON, viewer()))
        assert choice.fallback and choice.decision.item_id == "hours" and choice.eligible == ("hours",)
        assert choice.decision.propensity == 1.0 and "screen killed" in choice.decision.reason


@pytest.mark.parametrize(
    ("viewers", "camera_ok", "safe"),
    [
        ((), True, True),
        ((viewer("a", AgeBand.ADULT), viewer("b", AgeBand.SENIOR)), True, True),
        ((viewer("a", AgeBand.ADULT), viewer("b", AgeBand.TEEN)), True, False),
        ((viewer("a", AgeBand.CHILD),), True, False),
        ((viewer("a", AgeBand.UNKNOWN),), True, False),  # an uncertain age counts as a possible minor
        ((), False, False),  # camera out: nobody's age is known
        ((viewer("a", AgeBand.ADULT),), False, False),
    ],
)
def test_restricted_items_and_categories(viewers: tuple[Viewer, ...], camera_ok: bool, safe: bool) -> None:
    result = apply_rules(POOL, rules(), ctx(NOON, *viewers, camera_ok=camera_ok), DeliveryHistory(timezone=TZ))
    ids = {i.item_id for i in result.eligible}
    assert ("wine" in ids) == safe and ("card" in ids) == safe
    if not safe:
        assert result.excluded["wine"].startswith("restricted")


@pytest.mark.parametrize(
    ("data", "fallback", "message"),
    [
        ({"items": {"nope": {"killed": True}}}, "hours", "rules.items.'nope': no item"),
        ({"advertisers": {"Nobody": {"max_plays_per_day": 1}}}, "hours", "no advertiser"),
        ({"categories": {"toys": {"min_share": 0.1}}}, "hours", "no category"),
        ({}, "card", "restricted"),
        ({}, "wine", "restricted"),
        ({"blocked_categories": ["store"]}, "hours", "blocked"),
        ({"items": {"hours": {"killed": True}}}, "hours", "killed"),
    ],
)
def test_rules_that_do_not_fit_the_pool_are_errors(data: dict[str, Any], fallback: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        RuleSet.compile(RulesConfig.model_validate(data), POOL, timezone=TZ, fallback_item=fallback)


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        ({"items": {"a": {"dayparts": ["lunch"]}}}, "rules", "unknown daypart 'lunch'"),
        ({"items": {"a": {"min_share": 0.5, "max_share": 0.2}}}, "rules.items.a", "above max_share"),
        ({"dayparts": {"x": [{"start": "25:00"}]}}, "rules.dayparts.x.0.start", "HH:MM"),
        ({"dayparts": {"x": [{"start": "10:00", "end": "10:00"}]}}, "rules.dayparts.x.0", "empty"),
        ({"dayparts": {"x": [{"days": ["funday"]}]}}, "rules.dayparts.x.0.days.0", "mon"),
        ({"advertisers": {"a": {"min_share": 0.6}, "b": {"min_share": 0.6}}}, "rules", "add up to 1.2"),
        ({"control_share": 1.5}, "rules.control_share", "less than or equal to 1"),
        ({"items": {"a": {"max_plays_per_hour": -1}}}, "rules.items.a.max_plays_per_hour", "greater than or equal"),
        ({"items": {"a": {"colour": "red"}}}, "rules.items.a.colour", "unknown key"),
    ],
)
def test_rules_config_errors_name_the_key(data: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"rules": data})
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 1 and problems[0].startswith(key) and reason in problems[0], problems


def test_min_shares_that_add_up_to_exactly_the_whole_screen_are_taken() -> None:
    shares = {"a": 0.05, "b": 0.55, "c": 0.3, "d": 0.1}  # 1.0000000000000002 when summed in floats
    config = parse_config({"rules": {"advertisers": {k: {"min_share": v} for k, v in shares.items()}}})
    assert config.rules.advertisers is not None and len(config.rules.advertisers) == 4


def test_rules_config_round_trips_from_toml_values() -> None:
    config = parse_config(
        {"rules": {"items": {"coffee": {"start_date": "2026-03-01", "windows": [{"days": ["mon"], "start": "06:00"}]}}}}
    )
    assert config.rules.items is not None and str(config.rules.items["coffee"].start_date) == "2026-03-01"
    with pytest.raises(ValidationError):
        RulesConfig.model_validate({"share_margin": 0.9})


# -- no repeat for a viewer who already watched ------------------------------------------------------------------
def test_no_repeat_for_a_viewer_who_watched_and_only_for_them() -> None:
    decider = Decider(RoundRobinPolicy(order=[i.item_id for i in POOL]), POOL, timezone=TZ, fallback_item="hours")
    decider.decide(snap(NOON, viewer("ann")))  # the Decider learns who is present
    decider.watched("ann", "coffee", attention_s=2.5, t_utc=NOON)
    decider.watched("ann", "bread", attention_s=0.2, t_utc=NOON)  # a glance is not watching
    with_ann = decider.decide(snap(NOON + timedelta(seconds=10), viewer("ann"), viewer("bob")))
    assert with_ann.excluded["coffee"].startswith("repeat") and "bread" in with_ann.eligible
    assert "coffee" in decider.decide(snap(NOON + timedelta(seconds=20), viewer("bob"))).eligible
    after_ttl = decider.decide(snap(NOON + timedelta(minutes=31), viewer("ann")))
    assert "coffee" in after_ttl.eligible  # remembered for 30 minutes only (RAM, like the embeddings)


def test_nothing_eligible_gives_the_fallback_never_nothing() -> None:
    data = {"categories": {"food": {"killed": True}, "store": {"max_plays_per_day": 0}}, "blocked_categories": ["x"]}
    decider = Decider(
        _Softmax(), POOL, timezone=TZ, fallback_item="hours", rules=RulesConfig.model_validate(data), seed=3
    )
    choice = decider.decide(snap(NOON, viewer("kid", AgeBand.CHILD)))  # wine, card restricted; news left
    assert choice.eligible == ("news",)
    decider.watched("kid", "news", attention_s=5.0, t_utc=NOON)
    choice = decider.decide(snap(NOON + timedelta(seconds=10), viewer("kid", AgeBand.CHILD)))
    assert choice.fallback and choice.decision.item_id == "hours" and choice.decision.propensity == 1.0
    assert (
        "fallback item (nothing eligible)" in choice.decision.reason
        and "7 excluded: cap 2, killed 2, repeat 1, restricted 2" in choice.decision.reason
    )


# -- pacing -------------------------------------------------------------------------------------------------------
def test_min_share_narrows_the_set_while_behind_and_max_share_excludes() -> None:
    rule_set = rules(advertisers={"Market": {"min_share": 0.3}}, items={"coffee": {"max_share": 0.1}})
    history = DeliveryHistory(timezone=TZ)
    t = NOON
    for item_id, seconds in (("coffee", 100.0), ("news", 900.0)):
        history.played(item_id, t, t + timedelta(seconds=seconds))
    result = apply_rules(POOL, rule_set, ctx(t, viewer()), history)
    assert result.paced_for == ("advertiser Market",)
    assert {i.item_id for i in result.eligible} == {"bread", "app", "hours"}
    assert result.excluded["coffee"].startswith("share: at its max share of 0.1")
    history.played("bread", t, t + timedelta(seconds=600.0))  # Market now has 600 / 1600 = 37.5% > 32%
    assert "news" in eligible_ids(rule_set, ctx(t, viewer()), history)


# -- the Decider's arms and propensities -------------------------------------------------------------------------
class _Softmax:
    """A stochastic test policy with fixed preferences that can say its probabilities."""

    name, version = "test_softmax", "1"

    def __init__(self, *, seed: int = 0, weights: Mapping[str, float] | None = None) -> None:
        self._rng = random.Random(seed)
        self._weights = dict(weights or {"coffee": 2.0, "bread": 1.0})

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> dict[str, float]:
        raw = {i.item_id: math.exp(self._weights.get(i.item_id, 0.0)) for i in eligible}
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        probs = self.probabilities(context, eligible)
        ids = list(probs)
        chosen = self._rng.choices(ids, weights=[probs[i] for i in ids])[0]
        return Decision(chosen, probs[chosen], "test softmax")

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        pass


@pytest.mark.parametrize("policy_kind", ["stochastic", "deterministic"])
def test_logged_propensities_are_the_true_probabilities_of_the_mixture(policy_kind: str) -> None:
    """With true propensities p, the mean of 1{x = a} / p over decisions estimates 1 for every item a."""
    policy: Any = _Softmax(seed=5) if policy_kind == "stochastic" else _Deterministic()
    data = {"control_share": 0.25, "exploration_floor": 0.2, "no_repeat": False}
    decider = Decider(policy, POOL, timezone=TZ, fallback_item="hours", rules=RulesConfig.model_validate(data), seed=9)
    n = 20_000
    weights: dict[str, float] = {}
    smallest: dict[str, float] = {}
    arms = {"control": 0, "learner": 0}
    for k in range(n):
        choice = decider.decide(snap(NOON + timedelta(seconds=k), viewer(band=AgeBand.TEEN)))
        item_id, p = choice.decision.item_id, choice.decision.propensity
        weights[item_id] = weights.get(item_id, 0.0) + 1 / p
        smallest[item_id] = min(p, smallest.get(item_id, 1.0))
        arms[choice.arm] += 1
        assert choice.decision.item_id in choice.eligible and set(choice.eligible) == set(POOL_SAFE)
    for item_id in POOL_SAFE:
        # The mean of n draws of 1{x = a} / p has standard error sqrt((1 - p) / (p n)): allow four of them.
        p = smallest[item_id]
        assert weights[item_id] / n == pytest.approx(1.0, abs=4 * math.sqrt((1 - p) / (p * n))), (item_id, p)
    assert arms["control"] / n == pytest.approx(0.25, abs=0.015)


POOL_SAFE = ("coffee", "bread", "app", "news", "hours")


def test_propensities_hold_from_the_first_decision_when_the_decider_and_policy_share_a_seed() -> None:
    """The engine seeds both with `learner_seed`. Over many screens, the first decision's 1{x = a} / p must still
    average 1 for every item a: the Decider's draws (arm, floor) may not be the policy's own draws."""
    data = {"control_share": 0.5, "exploration_floor": 0.0, "no_repeat": False}
    screens = 5_000
    weights: dict[str, float] = dict.fromkeys(POOL_SAFE, 0.0)
    for seed in range(screens):
        policy = _Softmax(seed=seed, weights={"none": 0.0})  # uniform over the eligible items
        rules_config = RulesConfig.model_validate(data)
        decider = Decider(policy, POOL, timezone=TZ, fallback_item="hours", rules=rules_config, seed=seed)
        choice = decider.decide(snap(NOON, viewer(band=AgeBand.TEEN)))
        weights[choice.decision.item_id] += 1 / choice.decision.propensity
    for item_id in POOL_SAFE:  # the playlist's first item is coffee: p = 0.5 + 0.5 / 5, 1 / (0.5 / 5) otherwise
        assert weights[item_id] / screens == pytest.approx(1.0, abs=0.2), (item_id, weights[item_id] / screens)


class _Deterministic:
    name, version = "always_coffee", "1"

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        ids = [i.item_id for i in eligible]
        return Decision("coffee" if "coffee" in ids else ids[0], 1.0, "always coffee")

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        pass


def test_a_stochastic_policy_without_probabilities_is_refused_when_mixing() -> None:
    class Coin(_Deterministic):
        def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
            return Decision(eligible[0].item_id, 0.5, "coin")

    decider = Decider(Coin(), POOL, timezone=TZ, fallback_item="hours", rules=RulesConfig(control_share=0.5))
    with pytest.raises(TypeError, match="no probabilities"):
        for _ in range(50):  # the first control-arm decision needs the learner's probability of its pick
            decider.decide(snap(NOON, viewer()))


def test_the_playlist_as_policy_is_the_control_arm_without_mixing() -> None:
    order = [i.item_id for i in POOL]
    decider = Decider(RoundRobinPolicy(order=order), POOL, timezone=TZ, fallback_item="hours", rules=RulesConfig())
    choices = [decider.decide(snap(NOON + timedelta(seconds=k), viewer(band=AgeBand.TEEN))) for k in range(5)]
    assert [c.decision.item_id for c in choices] == ["coffee", "bread", "app", "news", "hours"]
    assert all(c.arm == "control" and c.decision.propensity == 1.0 for c in choices)
    assert "2 excluded: restricted 2" in choices[0].decision.reason
