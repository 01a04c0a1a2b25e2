"""Decisions: context building, the restricted-content rule, the fallback, and the playlist policy."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from signage.decision import Decider, Policy, RoundRobinPolicy, build_context, eligible_items
from signage.types import (
    AgeBand,
    Attributes,
    AudienceSnapshot,
    ContentItem,
    ContentKind,
    Direction,
    Viewer,
    ViewerStatus,
)

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 UTC on the day Berlin springs forward (CET -> CEST)


def item(item_id: str, *, restricted: bool = False) -> ContentItem:
    return ContentItem(item_id, "", ContentKind.TEXT, 8.0, "adv", "cat", restricted=restricted, title=item_id)


ITEMS = (item("a"), item("wine", restricted=True), item("b"), item("c"))


def viewer(band: AgeBand, *, facing: bool = True, returning: bool = False) -> Viewer:
    return Viewer(
        viewer_id="v",
        track_id=1,
        status=ViewerStatus.WATCHER,
        first_seen_mono=0.0,
        last_seen_mono=2.0,
        dwell_s=2.0,
        attention_s=1.5,
        facing=facing,
        facing_streak_s=1.5,
        attributes=Attributes(age_band=band, age_confidence=0.8),
        returning=returning,
        direction=Direction.STANDING,
        group_size=1,
        is_passer_by=True,
        is_watcher=True,
    )


def snapshot(*viewers: Viewer, camera_ok: bool = True) -> AudienceSnapshot:
    return AudienceSnapshot(t_mono=0.0, t_utc=NOW, viewers=viewers, camera_ok=camera_ok)


def test_context_uses_the_store_time_zone_across_dst() -> None:
    before = build_context(snapshot(), "Europe/Berlin")
    assert before.local_hour == 1  # 00:30 UTC = 01:30 CET, the last hour before the change
    after = build_context(replace(snapshot(), t_utc=NOW.replace(hour=1)), "Europe/Berlin")
    assert after.local_hour == 3  # 01:30 UTC = 03:30 CEST: 02:xx does not exist that night
    assert before.weekday == 6


def test_context_counts_and_shares() -> None:
    ctx = build_context(snapshot(viewer(AgeBand.ADULT), viewer(AgeBand.SENIOR, facing=False)), "UTC")
    assert (ctx.n_present, ctx.n_watching) == (2, 1)
    assert ctx.features["age_adult"] == 0.5 and ctx.features["age_senior"] == 0.5
    assert not ctx.minor_possible and ctx.camera_ok


def test_context_says_which_way_people_move_and_how_sure_their_bands_are() -> None:
    walking = replace(viewer(AgeBand.ADULT), direction=Direction.LEFT_TO_RIGHT)
    unsure = replace(
        viewer(AgeBand.SENIOR), direction=Direction.APPROACHING, attributes=Attributes(AgeBand.SENIOR, 0.4)
    )
    features = build_context(snapshot(viewer(AgeBand.ADULT), walking, unsure), "UTC").features
    assert features["direction_standing"] == features["direction_crossing"] == features["direction_approaching"]
    assert features["direction_approaching"] == pytest.approx(1 / 3) and "direction_leaving" not in features
    assert features["confidence_age"] == pytest.approx((0.8 + 0.8 + 0.4) / 3)
    assert features["confidence_gender"] == 0.0  # nobody's gender was seen


@pytest.mark.parametrize(
    ("viewers", "camera_ok", "allowed"),
    [
        ((), True, True),
        ((viewer(AgeBand.ADULT),), True, True),
        ((viewer(AgeBand.ADULT), viewer(AgeBand.TEEN)), True, False),
        ((viewer(AgeBand.CHILD),), True, False),
        ((viewer(AgeBand.UNKNOWN),), True, False),
        ((), False, False),
    ],
)
def test_restricted_items_only_when_safe(viewers: tuple[Viewer, ...], camera_ok: bool, allowed: bool) -> None:
    ctx = build_context(snapshot(*viewers, camera_ok=camera_ok), "UTC")
    ids = [i.item_id for i in eligible_items(ITEMS, ctx)]
    assert ("wine" in ids) == allowed
    assert {"a", "b", "c"} <= set(ids)


def test_round_robin_cycles_and_skips_ineligible() -> None:
    policy = RoundRobinPolicy(order=[i.item_id for i in ITEMS])
    ctx = build_context(snapshot(), "UTC")
    assert [policy.select(ctx, ITEMS).item_id for _ in range(5)] == ["a", "wine", "b", "c", "a"]
    safe = [i for i in ITEMS if not i.restricted]
    decision = policy.select(ctx, safe)
    assert decision.item_id == "b" and "skipped" in decision.reason
    assert decision.propensity == 1.0


def test_policy_contract() -> None:
    policy = RoundRobinPolicy(order=["a", "b"])
    assert isinstance(policy, Policy)
    ctx = build_context(snapshot(), "UTC")
    clone = pickle.loads(pickle.dumps(policy))
    assert [policy.select(ctx, ITEMS[:1] + ITEMS[2:3]).item_id for _ in range(3)] == [
        clone.select(ctx, ITEMS[:1] + ITEMS[2:3]).item_id for _ in range(3)
    ]
    items_before = tuple(ITEMS)
    policy.learn(ctx, "a", 3.0)
    assert items_before == ITEMS
    with pytest.raises(ValueError, match="at least one"):
        policy.select(ctx, [])


def test_decider_never_returns_an_ineligible_item_and_falls_back() -> None:
    pool = (item("wine", restricted=True), item("beer", restricted=True), item("water"))
    decider = Decider(RoundRobinPolicy(order=["wine", "beer"]), pool, timezone="UTC", fallback_item="water")
    choice = decider.decide(snapshot(viewer(AgeBand.TEEN)))
    assert choice.decision.item_id == "water" and choice.decision.propensity == 1.0
    with pytest.raises(ValueError, match="restricted: it must be safe"):  # a restricted fallback could reach a minor
        Decider(RoundRobinPolicy(order=["wine"]), pool, timezone="UTC", fallback_item="beer")
    with pytest.raises(ValueError, match="not in the content pool"):
        Decider(RoundRobinPolicy(order=["a"]), ITEMS, timezone="UTC", fallback_item="zzz")
    with pytest.raises(ValueError, match="empty"):
        Decider(RoundRobinPolicy(order=["a"]), (), timezone="UTC", fallback_item=None)
    # No fallback configured: the first safe item is the fallback, and a pool with none is refused, not shown.
    unset = Decider(RoundRobinPolicy(order=["wine"]), pool, timezone="UTC", fallback_item=None)
    assert unset.fallback.item_id == "water"
    with pytest.raises(ValueError, match="no item of the content pool is safe"):
        Decider(RoundRobinPolicy(order=["wine"]), pool[:2], timezone="UTC", fallback_item=None)


def test_decider_rejects_a_policy_that_breaks_the_rules() -> None:
    class Rogue:
        name, version = "rogue", "0"

        def select(self, context: object, eligible: object) -> object:
            from signage.types import Decision

            return Decision("wine", 1.0, "ignores rules")

        def learn(self, context: object, item_id: str, reward: float) -> None:
            pass

    decider = Decider(Rogue(), ITEMS, timezone="UTC", fallback_item=None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not eligible"):
        decider.decide(snapshot(viewer(AgeBand.CHILD)))


def test_a_returning_viewer_is_not_shown_what_they_watched_on_an_earlier_visit() -> None:
    """Re-identification gives both visits the same person key (RAM only): the second visit gets no repeat."""
    from signage.config.rules import RulesConfig

    items = (item("a"), item("b"), item("c"))
    decider = Decider(
        RoundRobinPolicy(order=["a", "b", "c"]),
        items,
        timezone="UTC",
        fallback_item=None,
        rules=RulesConfig(control_share=0.0, exploration_floor=0.0),
    )
    first_visit = replace(viewer(AgeBand.ADULT), viewer_id="visit-1", person_key="person-7")
    assert decider.decide(snapshot(first_visit)).decision.item_id == "a"
    decider.watched("visit-1", "a", attention_s=4.0, t_utc=NOW)
    second_visit = replace(viewer(AgeBand.ADULT), viewer_id="visit-2", person_key="person-7", returning=True)
    stranger = replace(viewer(AgeBand.ADULT), viewer_id="visit-3", person_key="person-8")
    later = replace(snapshot(second_visit), t_utc=NOW.replace(minute=45))
    choices = [decider.decide(later) for _ in range(6)]
    assert all(c.decision.item_id != "a" for c in choices)
    assert any("a" in c.excluded for c in choices)
    fresh = replace(snapshot(stranger), t_utc=NOW.replace(minute=46))
    assert "a" not in decider.decide(fresh).excluded


def test_the_learner_leaves_movement_and_certainty_out() -> None:
    """They are in the context (logged); the contextual learner does not learn from them (measured: no gain)."""
    from signage.decision.policies.features import context_features

    ctx = build_context(snapshot(viewer(AgeBand.ADULT)), "UTC")
    assert "direction_standing" in ctx.features and "confidence_age" in ctx.features
    named = context_features(ctx)
    assert not [name for name in named if name.startswith(("direction_", "confidence_"))] and "age_adult" in named
