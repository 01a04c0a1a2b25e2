"""What the learner sees beyond the anchors: what returning viewers already watched (wear memory), who is present
together (group composition), and that the contextual learner uses both."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from signage.config.rules import RulesConfig
from signage.decision import Decider
from signage.decision.context import WearMemory, build_context, for_viewer, group_features
from signage.decision.policies import ContextualPolicy
from signage.decision.policies.features import context_features
from signage.types import (
    AgeBand,
    Attributes,
    AudienceSnapshot,
    ContentItem,
    ContentKind,
    Context,
    Direction,
    Gender,
    Viewer,
    ViewerStatus,
)

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def viewer(key: str, band: AgeBand = AgeBand.ADULT, gender: Gender = Gender.FEMALE, *, group: int = 1) -> Viewer:
    return Viewer(
        viewer_id=f"visit-{key}",
        track_id=1,
        status=ViewerStatus.WATCHER,
        first_seen_mono=0.0,
        last_seen_mono=2.0,
        dwell_s=2.0,
        attention_s=1.0,
        facing=True,
        facing_streak_s=1.0,
        attributes=Attributes(age_band=band, age_confidence=0.9, gender=gender, gender_confidence=0.9),
        returning=False,
        direction=Direction.STANDING,
        group_size=group,
        is_passer_by=True,
        is_watcher=True,
        person_key=key,
    )


def decider_after_one_watch() -> Decider:
    """A decider over items a and b (no control arm, no floor, a 30 min no-repeat window) after `person-7` watched a
    for 4 s at NOW."""
    items = (
        ContentItem("a", "", ContentKind.TEXT, 8.0, "adv", "cat"),
        ContentItem("b", "", ContentKind.TEXT, 8.0, "adv", "cat"),
    )
    decider = Decider(
        ContextualPolicy(seed=1),
        items,
        timezone="UTC",
        fallback_item=None,
        rules=RulesConfig(control_share=0.0, exploration_floor=0.0, no_repeat_window_min=30.0),
        wear_memory=timedelta(hours=12),
    )
    first = viewer("person-7")
    decider.decide(AudienceSnapshot(t_mono=0.0, t_utc=NOW, viewers=(first,)))
    decider.watched(first.viewer_id, "a", attention_s=4.0, t_utc=NOW)
    return decider


def test_wear_memory_shares_counts_and_forgets() -> None:
    memory = WearMemory(ttl=timedelta(hours=2))
    memory.watched("p1", "a", NOW)
    memory.watched("p1", "a", NOW + timedelta(minutes=40))
    memory.watched("p2", "b", NOW)
    later = NOW + timedelta(hours=1)
    assert memory.features(["p1", "p2", "p3", "p4"], later) == {
        "item:a:seen": 0.25,
        "item:b:seen": 0.25,
        "item:a:seen_again": 0.25,
    }
    assert memory.features(["p3"], later) == {}
    assert memory.features(["p1", "p2"], NOW + timedelta(hours=2, minutes=30)) == {
        "item:a:seen": 0.5,
        "item:a:seen_again": 0.5,
    }
    assert memory.features(["p1"], NOW + timedelta(hours=3)) == {}
    off = WearMemory(ttl=timedelta(0))
    off.watched("p1", "a", NOW)
    assert off.features(["p1"], NOW) == {}


def test_group_composition_features() -> None:
    family = group_features(
        [viewer("1", AgeBand.CHILD, Gender.MALE, group=2), viewer("2", AgeBand.ADULT, Gender.FEMALE, group=2)]
    )
    assert family["family"] == 1.0 and family["mixed_gender"] == 1.0 and family["together_share"] == 1.0
    assert family["agegender_child_male"] == 0.5 and family["agegender_adult_female"] == 0.5
    assert "solo" not in family
    alone = group_features([viewer("3")])
    assert alone == {"solo": 1.0, "agegender_adult_female": 1.0}
    assert group_features([]) == {}


def test_a_reward_is_learned_with_its_own_viewers_bands_in_place_of_the_groups_shares() -> None:
    family = (viewer("1", AgeBand.CHILD, Gender.MALE, group=2), viewer("2", AgeBand.ADULT, Gender.FEMALE, group=2))
    context = build_context(AudienceSnapshot(t_mono=0.0, t_utc=NOW, viewers=family), "UTC")
    shared = context_features(context)
    assert shared["age_child"] == shared["age_adult"] == 0.5 and shared["family"] == 1.0
    child = context_features(for_viewer(context, family[0].attributes))
    assert child["age_child"] == child["gender_male"] == child["agegender_child_male"] == 1.0
    assert "age_adult" not in child and "gender_female" not in child and "agegender_adult_female" not in child
    assert child["family"] == shared["family"] and child["crowd"] == shared["crowd"]  # the group stays the group
    assert not any(name.startswith("viewer:") for name in child)
    assert for_viewer(context, family[0].attributes).features["age_adult"] == 0.5  # the decision's context is kept


def test_the_decider_keeps_what_each_viewer_alone_had_watched_for_their_reward() -> None:
    """The group's context says half the people present watched item a; the reward of the one who did is learned
    with `item:a:seen` 1, their companion's with nothing seen."""
    decider = decider_after_one_watch()
    back = replace(viewer("person-7"), viewer_id="visit-again", returning=True)
    friend = viewer("person-8", AgeBand.SENIOR, Gender.MALE)
    choice = decider.decide(AudienceSnapshot(t_mono=0.0, t_utc=NOW + timedelta(hours=3), viewers=(back, friend)))
    assert choice.context.features["item:a:seen"] == 0.5
    assert dict(choice.own_memory[back.viewer_id]) == {"item:a:seen": 1.0, "item:a:held": 1.0}
    assert dict(choice.own_memory[friend.viewer_id]) == {}
    theirs = for_viewer(choice.context, back.attributes, choice.own_memory[back.viewer_id]).features
    assert theirs["item:a:seen"] == 1.0 and theirs["viewer:age_adult"] == 1.0
    companion = for_viewer(choice.context, friend.attributes, choice.own_memory[friend.viewer_id]).features
    assert not any(name.startswith("item:") for name in companion) and companion["viewer:age_senior"] == 1.0
    late = for_viewer(choice.context, friend.attributes).features  # not there at the decision: the group's shares
    assert late["item:a:seen"] == 0.5


def test_rewards_learned_per_viewer_tell_apart_who_in_a_family_watched() -> None:
    """Families of a child and a parent only: the child watches the toys, the parent the coffee. Learned against the
    group's shares, both items look alike (each pleases half the family); learned per viewer, the learner knows a
    child alone wants the toys and a parent alone the coffee."""
    items = (
        ContentItem("toys", "", ContentKind.TEXT, 8.0, "adv", "toys"),
        ContentItem("coffee", "", ContentKind.TEXT, 8.0, "adv", "coffee"),
    )
    family = (viewer("1", AgeBand.CHILD, Gender.MALE, group=2), viewer("2", AgeBand.ADULT, Gender.FEMALE, group=2))
    context = build_context(AudienceSnapshot(t_mono=0.0, t_utc=NOW, viewers=family), "UTC")
    likes = {AgeBand.CHILD: "toys", AgeBand.ADULT: "coffee"}
    genders = {member.attributes.age_band: member.attributes.gender for member in family}
    rng = random.Random(2)
    gaps = {}
    for per_viewer in (False, True):
        policy = ContextualPolicy(seed=4)
        policy.select(context, items)
        for _ in range(2000):
            shown = rng.choice(items).item_id
            for member in family:
                reward = (8.0 if likes[member.attributes.age_band] == shown else 1.0) + rng.gauss(0.0, 1.0)
                policy.learn(for_viewer(context, member.attributes) if per_viewer else context, shown, reward)
        alone = {
            band: build_context(AudienceSnapshot(0.0, NOW, (viewer("3", band, genders[band]),)), "UTC")
            for band in likes
        }
        gaps[per_viewer] = {
            band: dict(zip(("toys", "coffee"), policy.probabilities(ctx, items), strict=True))[likes[band]]
            for band, ctx in alone.items()
        }
    assert all(p > 0.9 for p in gaps[True].values())  # each alone gets what they like
    assert min(gaps[False].values()) < 0.6  # the group-level learner gets at least one of them wrong


def test_the_decider_gives_the_learner_what_a_returning_viewer_watched_after_the_no_repeat_window() -> None:
    decider = decider_after_one_watch()
    back = replace(viewer("person-7"), viewer_id="visit-again", returning=True)
    stranger = viewer("person-8")
    snapshot = AudienceSnapshot(t_mono=0.0, t_utc=NOW + timedelta(hours=3), viewers=(back, stranger))
    choice = decider.decide(snapshot)
    assert "a" not in choice.excluded  # the no-repeat window (30 min) is over...
    assert choice.context.features["item:a:seen"] == 0.5  # ...but the learner still knows half the people saw it
    assert "item:b:seen" not in choice.context.features
    assert build_context(snapshot, "UTC").features.get("item:a:seen") is None


def test_the_learner_prefers_items_the_people_present_have_not_seen() -> None:
    """Same item features, same audience; an item already watched by those present earns less (novelty wear)."""
    items = tuple(ContentItem(f"i{k}", "", ContentKind.TEXT, 8.0, "adv", "cat", tags=("x",)) for k in range(4))
    policy = ContextualPolicy(seed=3)
    rng = random.Random(5)
    base = {"age_adult": 1.0, "gender_female": 1.0}
    for _ in range(3000):
        seen = rng.randrange(4)
        context = Context(NOW, 12, 1, 1, 1, False, True, True, base | {f"item:i{seen}:seen": 1.0})
        decision = policy.select(context, items)
        reward = (2.0 if decision.item_id == f"i{seen}" else 10.0) * (0.5 + rng.random())
        policy.learn(context, decision.item_id, reward)
    for seen in range(4):
        context = Context(NOW, 12, 1, 1, 1, False, True, True, base | {f"item:i{seen}:seen": 1.0})
        probabilities = policy.probabilities(context, items)
        assert probabilities[seen] < 0.1, probabilities


def test_wear_memory_marks_the_items_a_viewer_was_held_by() -> None:
    memory = WearMemory(ttl=timedelta(hours=2), held_s=3.0)
    memory.watched("p1", "a", NOW, attention_s=5.0)
    memory.watched("p2", "a", NOW, attention_s=1.5)
    memory.watched("p2", "b", NOW)  # attention unknown: seen, never held
    features = memory.features(["p1", "p2"], NOW + timedelta(minutes=5))
    assert features == {"item:a:seen": 1.0, "item:b:seen": 0.5, "item:a:held": 0.5}
    memory.watched("p1", "a", NOW + timedelta(hours=3), attention_s=1.0)  # the old hold has been forgotten
    assert "item:a:held" not in memory.features(["p1"], NOW + timedelta(hours=3))


def test_the_learner_uses_what_returning_viewers_were_held_by_on_similar_items() -> None:
    """A viewer who was held by one toy item is likelier to be held by another: the learner learns the shared
    `mem:category_held` weight and applies it to a category it has never seen rewarded that way."""
    items = tuple(
        ContentItem(f"{category}{k}", "", ContentKind.TEXT, 8.0, "adv", category, tags=(category,))
        for category in ("toys", "food", "tech", "home")
        for k in range(2)
    )
    policy = ContextualPolicy(seed=4)
    rng = random.Random(6)
    base = {"age_adult": 1.0}
    for _ in range(3000):
        liked = rng.choice(("toys", "food", "tech"))  # "home" is never liked in training
        context = Context(NOW, 12, 1, 1, 1, False, True, True, base | {f"item:{liked}0:held": 1.0})
        decision = policy.select(context, items)
        similar = decision.item_id == f"{liked}1"  # the held item itself is worn out; its sibling is not
        reward = (10.0 if similar else 1.0) * (0.5 + rng.random())
        policy.learn(context, decision.item_id, reward)
    context = Context(NOW, 12, 1, 1, 1, False, True, True, base | {"item:home0:held": 1.0})
    probabilities = policy.probabilities(context, items)
    assert probabilities[7] > 0.5, probabilities  # home1: same category as what held this viewer


def wear_trained_policy(*, wear_crossed: bool) -> ContextualPolicy:
    """A learner taught a store where wear halves an item's appeal for a viewer who watched it before: a loved item
    (reward 10, 5 once seen) and five ordinary ones (5.5, 2.75 once seen); each viewer has watched one item at random.
    What is shown is drawn uniformly (the decider's control arm and exploration floor): the learner learns from
    every exposure, whoever chose it."""
    items = wear_items()
    policy = ContextualPolicy(seed=7, wear_crossed=wear_crossed)
    rng = random.Random(8)
    base = {"age_adult": 1.0, "gender_female": 1.0}
    for _ in range(4000):
        seen = rng.choice(items).item_id
        context = Context(NOW, 12, 1, 1, 1, False, True, True, base | {f"item:{seen}:seen": 1.0})
        shown = rng.choice(items).item_id
        appeal = 10.0 if shown == "loved" else 5.5
        worn = 0.5 if shown == seen else 1.0
        policy.learn(context, shown, appeal * worn * (0.5 + rng.random()))
    return policy


def wear_items() -> tuple[ContentItem, ...]:
    loved = ContentItem("loved", "", ContentKind.TEXT, 8.0, "adv", "toys", tags=("toys",))
    ordinary = tuple(ContentItem(f"o{k}", "", ContentKind.TEXT, 8.0, "adv", f"c{k}", tags=(f"t{k}",)) for k in range(5))
    return (loved, *ordinary)


def test_wear_crossed_with_the_items_features_learns_that_a_loved_item_loses_more() -> None:
    """Wear takes a share of the appeal, so a loved item a viewer has seen loses 5 where an ordinary one loses 2.75.
    One shared `ctx:seen` weight learns a mean loss (about 3.5 here) and keeps showing the seen loved item (predicted
    about 6.5 against 5.5); crossed with the item's features (`seen×<name>`) the learner knows it now earns 5 and shows
    an ordinary item instead, while a viewer who saw an ordinary item still gets the loved one."""
    items = wear_items()
    base = {"age_adult": 1.0, "gender_female": 1.0}
    saw_loved = Context(NOW, 12, 1, 1, 1, False, True, True, base | {"item:loved:seen": 1.0})
    saw_ordinary = Context(NOW, 12, 1, 1, 1, False, True, True, base | {"item:o0:seen": 1.0})
    crossed, shared = wear_trained_policy(wear_crossed=True), wear_trained_policy(wear_crossed=False)
    assert crossed.probabilities(saw_loved, items)[0] < 0.1
    assert crossed.probabilities(saw_ordinary, items)[0] > 0.8
    assert shared.probabilities(saw_loved, items)[0] > 0.5  # the shared weight cannot tell the two losses apart
