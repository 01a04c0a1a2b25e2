"""Schedules and share targets set on the items of the content pool: read in the store's time zone across DST,
merged with [rules.items.<id>] (the pool wins key by key; caps stay), and taken on a hot reload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_rules import POOL, TZ, _Deterministic, snap, utc, viewer

from signage.config.rules import RulesConfig, ScopeRulesConfig
from signage.decision import Decider
from signage.decision.rules import RulesError


def pool_rules(**items: dict[str, Any]) -> dict[str, ScopeRulesConfig]:
    return {item_id: ScopeRulesConfig.model_validate(data) for item_id, data in items.items()}


def decider(rules: dict[str, Any] | None = None, **items: dict[str, Any]) -> Decider:
    config = RulesConfig.model_validate({"control_share": 0.0, "exploration_floor": 0.0, **(rules or {})})
    return Decider(
        _Deterministic(), POOL, timezone=TZ, fallback_item="hours", rules=config, item_rules=pool_rules(**items)
    )


BREAKFAST = {"windows": [{"start": "08:00", "end": "09:00"}]}


@pytest.mark.parametrize(
    ("t_utc", "allowed"),
    [
        ("2026-03-28T07:30:00", True),  # Saturday 08:30 CET
        ("2026-03-28T08:30:00", False),  # 09:30 CET
        ("2026-03-30T06:30:00", True),  # Monday 08:30 CEST: the same wall-clock hour after the change
        ("2026-03-30T07:30:00", False),  # 09:30 CEST
    ],
)
def test_a_pool_schedule_follows_the_store_wall_clock_across_dst(t_utc: str, allowed: bool) -> None:
    choice = decider(coffee=BREAKFAST).decide(snap(utc(t_utc), viewer()))
    assert (choice.decision.item_id == "coffee") is allowed
    if not allowed:
        assert choice.excluded["coffee"] == "schedule: outside the hours of item coffee"


def test_the_pool_wins_key_by_key_and_caps_stay_in_the_config() -> None:
    config = {"items": {"coffee": {"windows": [{"start": "06:00", "end": "07:00"}], "max_plays_per_hour": 1}}}
    merged = decider(config, coffee=BREAKFAST)
    at_six = merged.decide(snap(utc("2026-05-04T04:30:00"), viewer()))  # 06:30 CEST: only the config allowed it
    assert at_six.excluded["coffee"].startswith("schedule")
    at_eight = merged.decide(snap(utc("2026-05-04T06:30:00"), viewer()))  # 08:30 CEST: the pool's window
    assert at_eight.decision.item_id == "coffee"
    again = merged.decide(snap(utc("2026-05-04T06:40:00"), viewer()))
    assert again.excluded["coffee"] == "cap: 1 plays per hour (item coffee)"
    config_only = decider(config)
    assert config_only.decide(snap(utc("2026-05-04T04:30:00"), viewer())).decision.item_id == "coffee"


def test_pool_share_targets_are_paced_like_config_ones() -> None:
    paced = decider(bread={"min_share": 0.5})
    t = utc("2026-05-04T10:00:00")
    first = paced.decide(snap(t, viewer()))
    assert first.decision.item_id == "bread" and first.excluded["coffee"] == "pacing: item bread behind min share"
    paced.played("bread", t, t + timedelta(seconds=100))
    paced.played("coffee", t, t + timedelta(seconds=50))  # bread 100 / 150 = 67% > 52%: no longer behind
    assert paced.decide(snap(t, viewer())).decision.item_id == "coffee"


def test_pool_rules_that_contradict_the_config_are_refused_naming_the_item() -> None:
    with pytest.raises(RulesError, match=r"item 'bread': the pool's rules do not fit \[rules.items.bread\]: min_share"):
        decider({"items": {"bread": {"max_share": 0.3}}}, bread={"min_share": 0.5})
    with pytest.raises(RulesError, match=r"min shares of the pool and \[rules.items\] add up to 1.2"):
        decider({"items": {"app": {"min_share": 0.7}}}, bread={"min_share": 0.5})


def test_a_hot_reload_takes_the_new_windows_and_targets_and_a_bad_one_changes_nothing() -> None:
    live = decider({"items": {"bread": {"max_share": 0.3}}})
    morning = snap(utc("2026-05-04T06:30:00"), viewer())  # 08:30 CEST
    evening = snap(utc("2026-05-04T16:30:00"), viewer())  # 18:30 CEST
    assert live.decide(evening).decision.item_id == "coffee"
    live.set_items(POOL, item_rules=pool_rules(coffee=BREAKFAST))
    assert live.decide(evening).excluded["coffee"].startswith("schedule")
    assert live.decide(morning).decision.item_id == "coffee"
    with pytest.raises(RulesError, match="item 'bread'"):
        live.set_items(POOL[1:], item_rules=pool_rules(bread={"min_share": 0.5}))
    assert live.decide(morning).decision.item_id == "coffee", "the rejected pool left the last good one in place"
    assert live.decide(evening).excluded["coffee"].startswith("schedule")
    live.set_items(POOL)  # a pool without rules of its own: the config's alone
    assert live.decide(evening).decision.item_id == "coffee"


def test_rules_of_items_not_in_the_pool_are_ignored() -> None:
    quiet = decider(gone={"min_share": 0.9})  # e.g. a quarantined item: its guarantee cannot narrow the rest
    assert quiet.decide(snap(utc("2026-05-04T10:00:00"), viewer())).decision.item_id == "coffee"
