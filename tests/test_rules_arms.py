"""The control arm keeps its own delivery accounting: caps and shares are counted per arm, so the learner cannot
starve or shape the plain playlist, while the safety rules bind both; the true propensity of the two-set mixture;
and the delivery history rebuilt from the store after a restart."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from test_rules import NOON, POOL, TZ, _Deterministic, _Softmax, snap, viewer

from signage.config import Config
from signage.config.rules import RulesConfig
from signage.decision import Decider
from signage.decision.history import DeliveryHistory
from signage.ids import new_id
from signage.records import DecisionRecord, PlayRecord, SessionRecord, Status
from signage.store import StoreWriter
from signage.types import AgeBand

SAFE_FOR_A_TEEN = {"coffee", "bread", "app", "news", "hours"}


def test_the_learner_cannot_use_up_the_control_arms_part_of_a_cap() -> None:
    """A learner that always wants coffee, capped at 4 plays an hour: it gets its half (2), the control arm's
    playlist still plays coffee twice an hour, and the screen never exceeds 4 in any rolling hour."""
    rules = RulesConfig.model_validate(
        {
            "control_share": 0.5,
            "exploration_floor": 0.0,
            "no_repeat": False,
            "items": {"coffee": {"max_plays_per_hour": 4}},
        }
    )
    decider = Decider(_Deterministic(), POOL, timezone=TZ, fallback_item="hours", rules=rules, seed=3)
    starts: list[tuple[object, str, str]] = []
    for k in range(3 * 360):  # three hours, a decision every 10 s
        t = NOON + timedelta(seconds=10 * k)
        choice = decider.decide(snap(t, viewer(band=AgeBand.TEEN)))
        decider.played(choice.decision.item_id, t, t + timedelta(seconds=10))
        starts.append((t, choice.decision.item_id, choice.arm))
    coffee = [(t, arm) for t, item_id, arm in starts if item_id == "coffee"]
    for hour in range(3):
        begin, end = NOON + timedelta(hours=hour), NOON + timedelta(hours=hour + 1)
        arms = Counter(arm for t, arm in coffee if begin <= t < end)  # type: ignore[operator]
        assert arms == {"learner": 2, "control": 2}, (hour, arms)
    times = [t for t, _ in coffee]
    assert all(times[k] - times[k - 4] >= timedelta(hours=1) for k in range(4, len(times)))  # type: ignore[operator]


def test_safety_rules_bind_both_arms() -> None:
    rules = RulesConfig.model_validate(
        {"control_share": 0.5, "exploration_floor": 0.3, "no_repeat": False, "items": {"app": {"killed": True}}}
    )
    decider = Decider(_Softmax(seed=1), POOL, timezone=TZ, fallback_item="hours", rules=rules, seed=4)
    shown = Counter()
    for k in range(600):
        choice = decider.decide(snap(NOON + timedelta(seconds=k), viewer(band=AgeBand.CHILD)))
        shown[(choice.arm, choice.decision.item_id)] += 1
        assert not {"wine", "card", "news", "app"} & set(choice.eligible) - {"news"}
    assert {arm for arm, _ in shown} == {"control", "learner"}
    assert not {item_id for _, item_id in shown} & {"wine", "card", "app"}


def test_the_logged_propensity_is_exact_when_the_arms_eligible_sets_differ() -> None:
    """The learner has used its part of coffee's cap, the control arm has not: coffee is eligible for the control
    arm only. Replaying the same state with many seeds, each item's frequency matches its logged propensity."""
    rules = RulesConfig.model_validate(
        {
            "control_share": 0.3,
            "exploration_floor": 0.2,
            "no_repeat": False,
            "items": {"coffee": {"max_plays_per_hour": 4}},
        }
    )
    history = DeliveryHistory(timezone=TZ)
    for minutes in (5, 10, 15):
        history.started("coffee", NOON - timedelta(minutes=minutes), arm="learner")  # 3 >= 0.7 * 4
    shown: Counter[str] = Counter()
    logged: dict[str, float] = {}
    eligible_by_arm: dict[str, set[frozenset[str]]] = {"control": set(), "learner": set()}
    n = 4000
    for seed in range(n):
        decider = Decider(
            _Softmax(seed=10**6 + seed), POOL, timezone=TZ, fallback_item="hours", rules=rules, seed=seed,
            history=copy.deepcopy(history),
        )  # fmt: skip
        choice = decider.decide(snap(NOON, viewer(band=AgeBand.TEEN)))
        item_id = choice.decision.item_id
        shown[item_id] += 1
        assert logged.setdefault(item_id, choice.decision.propensity) == pytest.approx(choice.decision.propensity)
        eligible_by_arm[choice.arm].add(frozenset(choice.eligible))
    assert eligible_by_arm == {
        "control": {frozenset(SAFE_FOR_A_TEEN)},
        "learner": {frozenset(SAFE_FOR_A_TEEN - {"coffee"})},
    }
    assert logged["coffee"] == pytest.approx(0.3)  # the control arm's playlist starts with coffee; nobody else
    assert sum(logged.values()) == pytest.approx(1.0)
    for item_id, p in logged.items():
        assert shown[item_id] / n == pytest.approx(p, abs=3 * (p * (1 - p) / n) ** 0.5 + 0.002), item_id


def test_a_restart_keeps_caps_and_shares_from_the_logged_plays(tmp_path: Path) -> None:
    """Plays logged before a restart still count: the hourly cap binds at once after it, the control arm's plays
    stay the control arm's, and the seconds on screen carry the shares."""
    db = tmp_path / "signage.db"
    config = Config()
    writer = StoreWriter(config.store, path=db).start()
    session = new_id()
    writer.write(
        SessionRecord(
            session_id=session,
            screen_id="s",
            started_utc=NOON - timedelta(hours=1),
            started_mono=0.0,
            mode="run",
            software_version="t",
            config_digest="d",
            last_seen_utc=NOON,
            last_seen_mono=3600.0,
        )
    )
    for k, (item_id, arm) in enumerate([("coffee", "learner"), ("coffee", "control"), ("coffee", "learner")]):
        t = NOON - timedelta(minutes=30 - 10 * k)
        decision_id = new_id()
        writer.write(
            DecisionRecord(
                decision_id=decision_id,
                session_id=session,
                t_utc=t,
                t_mono=float(k),
                context={},
                eligible=(item_id,),
                item_id=item_id,
                propensity=1.0,
                policy="p",
                policy_version="1",
                reason="r",
                arm=arm,
                trigger="item_end",
            )
        )
        writer.write(
            PlayRecord(
                play_id=new_id(),
                session_id=session,
                decision_id=decision_id,
                item_id=item_id,
                started_utc=t,
                started_mono=float(k),
                ended_utc=t + timedelta(seconds=100),
                ended_mono=float(k) + 100,
                status=Status.CLOSED,
            )
        )
    writer.close()

    history = DeliveryHistory.from_store(db, timezone=TZ, now_utc=NOON)
    day = history.local_day(NOON)
    assert history.plays_on({"coffee"}, day) == 3 and history.plays_on({"coffee"}, day, arm="control") == 1
    assert history.seconds_on({"coffee"}, day) == pytest.approx(300.0)
    assert history.seconds_on({"coffee"}, day, arm="control") == pytest.approx(100.0)
    rules = RulesConfig.model_validate({"control_share": 0.0, "items": {"coffee": {"max_plays_per_hour": 3}}})

    def first_choice(restored: DeliveryHistory | None) -> tuple[str, str]:
        decider = Decider(_Deterministic(), POOL, timezone=TZ, fallback_item="hours", rules=rules, history=restored)
        choice = decider.decide(snap(NOON, viewer()))
        return choice.decision.item_id, choice.excluded.get("coffee", "")

    assert first_choice(None) == ("coffee", "")  # a decider that forgot the last hour
    assert first_choice(history) == ("bread", "cap: 3 plays per hour (item coffee)")
    later = DeliveryHistory.from_store(db, timezone=TZ, now_utc=NOON + timedelta(minutes=41))
    assert later.plays_last_hour({"coffee"}, NOON + timedelta(minutes=41)) == 1  # the rolling hour moved on
    assert DeliveryHistory.from_store(tmp_path / "none.db", timezone=TZ, now_utc=NOON).plays_on({"coffee"}, day) == 0


def test_a_history_in_another_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="delivery history is in UTC"):
        Decider(_Deterministic(), POOL, timezone=TZ, fallback_item="hours", history=DeliveryHistory(timezone="UTC"))


def test_seconds_are_credited_to_the_arm_that_decided_the_play() -> None:
    rules = RulesConfig.model_validate({"control_share": 0.5, "exploration_floor": 0.0, "no_repeat": False})
    decider = Decider(_Deterministic(), POOL, timezone=TZ, fallback_item="hours", rules=rules, seed=8)
    per_arm: Counter[str] = Counter()
    for k in range(200):
        t = NOON + timedelta(seconds=10 * k)
        choice = decider.decide(snap(t, viewer(band=AgeBand.TEEN)))
        per_arm[choice.arm] += 10
        decider.played(choice.decision.item_id, t + timedelta(seconds=1), t + timedelta(seconds=11))
    decider.played("coffee", NOON, NOON + timedelta(seconds=5))  # no decision of its own: an interactive page
    day = decider.history.local_day(NOON)
    assert decider.history.total_seconds_on(day, arm="control") == pytest.approx(per_arm["control"])
    assert decider.history.total_seconds_on(day, arm="learner") == pytest.approx(per_arm["learner"] + 5)
