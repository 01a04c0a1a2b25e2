"""Off-policy evaluation: estimates of a known target policy, computed from logs of a different, stochastic logging
policy written into a real SQLite database, agree with the simulated truth within their intervals."""

from __future__ import annotations

import functools
import json
import math
import random
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signage.cli import main
from signage.config import StoreConfig
from signage.decision.evaluate import (
    Evaluation,
    EvaluationError,
    LoggedDecision,
    UniformTarget,
    evaluate,
    load_logged_decisions,
)
from signage.ids import new_id
from signage.records import DecisionRecord, ExposureRecord, SessionRecord, ViewerRecord
from signage.store import StoreWriter
from signage.types import AgeBand, Attributes, ContentItem, Context, Gender, Mood

ITEMS = ("a", "b", "c", "d")
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def true_mean(adult: float, hour: int, item_id: str) -> float:
    """The simulator's expected reward (attention seconds summed over a decision's exposures)."""
    evening = 1.0 if hour >= 17 else 0.0
    return {
        "a": 1.0 + 2.0 * adult,
        "b": 2.0 - 1.0 * adult + 0.5 * evening,
        "c": 1.5 + 1.5 * evening,
        "d": 0.5,
    }[item_id]


def logging_probabilities(adult: float, eligible: Sequence[str]) -> dict[str, float]:
    """A stochastic logging policy that prefers b and d: unlike the target, so the weights matter."""
    prefs = {"a": 0.2, "b": 1.0 + adult, "c": 0.5, "d": 1.0}
    raw = {i: math.exp(prefs[i]) for i in eligible}
    total = sum(raw.values())
    return {i: v / total for i, v in raw.items()}


class AdultsGetA:
    """The known target: a for adults, otherwise c, else the first eligible (deterministic)."""

    name = "adults_get_a"

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> Mapping[str, float]:
        ids = [i.item_id for i in eligible]
        adult = context.features.get("age_adult", 0.0) >= 0.5
        pick = "a" if adult and "a" in ids else ("c" if "c" in ids else ids[0])
        return {i: float(i == pick) for i in ids}


def draw_context(rng: random.Random, t: datetime) -> tuple[Context, tuple[str, ...]]:
    adult = float(rng.random() < 0.5)
    hour = rng.choice([9, 12, 15, 18, 20])
    eligible = tuple(i for i in ITEMS if rng.random() < 0.8) or ("d",)
    context = Context(
        t_utc=t,
        local_hour=hour,
        weekday=0,
        n_present=1,
        n_watching=1,
        minor_possible=False,
        returning_present=False,
        camera_ok=True,
        features={"age_adult": adult, "age_senior": 1.0 - adult},
    )
    return context, eligible


def draw_exposure_rewards(rng: random.Random, mean: float) -> list[float]:
    """0-2 viewers exposed; their attention adds up to the decision's reward with the given mean."""
    n = rng.choice([0, 1, 1, 2])
    if n == 0:
        return []
    # the zero-viewer case must not lower the mean: scale the others so E[sum] = mean
    per = mean / (n * (1 - 0.25))
    return [rng.expovariate(1 / per) if per > 0 else 0.0 for _ in range(n)]


def synthetic_logs(seed: int, n: int) -> list[tuple[Context, tuple[str, ...], str, float, list[float]]]:
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        context, eligible = draw_context(rng, T0 + timedelta(seconds=10 * k))
        probs = logging_probabilities(context.features["age_adult"], eligible)
        ids = list(probs)
        chosen = rng.choices(ids, weights=[probs[i] for i in ids])[0]
        mean = true_mean(context.features["age_adult"], context.local_hour, chosen)
        rows.append((context, eligible, chosen, probs[chosen], draw_exposure_rewards(rng, mean)))
    return rows


@functools.cache
def simulated_truth(target_name: str, n: int = 40_000) -> float:
    """The target's expected reward per decision, from the simulator's true means (not from any log)."""
    target = AdultsGetA() if target_name == AdultsGetA.name else UniformTarget()
    rng = random.Random(2024)
    total = 0.0
    for _ in range(n):
        context, eligible = draw_context(rng, T0)
        probs = target.probabilities(context, [_item(i) for i in eligible])
        total += sum(p * true_mean(context.features["age_adult"], context.local_hour, i) for i, p in probs.items())
    return total / n


def _item(item_id: str) -> ContentItem:
    from signage.types import ContentKind

    return ContentItem(item_id, "", ContentKind.TEXT, 8.0, "adv", "cat", title=item_id)


def logged(
    decision_id: str,
    session_id: str,
    context: Context,
    t_mono: float,
    eligible: tuple[str, ...],
    chosen: str,
    propensity: float,
) -> DecisionRecord:
    """A decision of the logging softmax, as the engine writes one."""
    return DecisionRecord(
        decision_id=decision_id,
        session_id=session_id,
        t_utc=context.t_utc,
        t_mono=t_mono,
        context=context.to_json(),
        eligible=eligible,
        item_id=chosen,
        propensity=propensity,
        policy="logging_softmax",
        policy_version="1",
        reason="test",
        arm="learner",
        trigger="item_end",
    )


def write_database(path: Path, seed: int, n: int, *, viewers_every: int = 0) -> None:
    """`synthetic_logs` as the engine logs them; with `viewers_every`, every so many exposures' viewer also gets a
    viewers row (an adult man)."""
    store = StoreWriter(StoreConfig(), path=path).start()
    session = SessionRecord(new_id(), "screen-1", T0, 0.0, "simulate", "test", "x", T0, 0.0)
    store.write(session)
    exposures = 0
    for k, (context, eligible, chosen, propensity, rewards) in enumerate(synthetic_logs(seed, n)):
        decision = logged(new_id(), session.session_id, context, 10.0 * k, eligible, chosen, propensity)
        store.write(decision)
        for reward in rewards:
            viewer_id = new_id()
            exposures += 1
            if viewers_every and exposures % viewers_every == 0:
                store.write(
                    ViewerRecord(
                        viewer_id, session.session_id, context.t_utc, context.t_utc, 8.0, 0.0,
                        AgeBand.ADULT, 0.9, Gender.MALE, 0.8, Mood.NEUTRAL, 0.5, False, 1, True, False, "test",
                    )
                )  # fmt: skip
            store.write(
                ExposureRecord(
                    exposure_id=new_id(),
                    session_id=session.session_id,
                    viewer_id=viewer_id,
                    play_id=new_id(),
                    decision_id=decision.decision_id,
                    item_id=chosen,
                    started_utc=context.t_utc,
                    ended_utc=context.t_utc + timedelta(seconds=8),
                    dwell_s=8.0 + reward,
                    attention_s=reward,
                    held=reward >= 3,
                    reward=reward,
                )
            )
    assert store.flush(timeout=30.0)
    assert store.close()


@pytest.fixture(scope="module")
def logged_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ope") / "signage.db"
    write_database(path, seed=11, n=4000)
    return path


def test_rewards_are_summed_per_decision_from_the_exposures(logged_db: Path) -> None:
    logs = load_logged_decisions(logged_db)
    expected = synthetic_logs(11, 4000)
    assert len(logs) == 4000
    for logged, (_, eligible, chosen, propensity, rewards) in zip(logs[:200], expected[:200], strict=True):
        assert (logged.item_id, logged.eligible) == (chosen, eligible)
        assert logged.propensity == pytest.approx(propensity)
        assert logged.reward == pytest.approx(sum(rewards))


def test_decisions_come_in_session_order_though_each_session_restarts_its_clock(tmp_path: Path) -> None:
    """The monotonic clock starts again in every session (a restart, a reboot): a replayed policy must still see
    the first session's decisions before the second's, never the future."""
    path = tmp_path / "signage.db"
    store = StoreWriter(StoreConfig(), path=path).start()
    context, eligible, chosen, propensity, _ = synthetic_logs(5, 1)[0]
    expected = []
    for day, session_name in enumerate(("first", "second")):
        started = T0 + timedelta(days=day)
        session = SessionRecord(new_id(), "screen-1", started, 0.0, "simulate", "test", "x", started, 0.0)
        store.write(session)
        for k in range(3):  # t_mono 0, 10, 20 in both sessions
            decision_id = f"{session_name}-{k}"
            expected.append(decision_id)
            at = replace(context, t_utc=started + timedelta(seconds=10 * k))
            store.write(logged(decision_id, session.session_id, at, 10.0 * k, eligible, chosen, propensity))
    assert store.flush(timeout=30.0)
    assert store.close()
    assert [logged.decision_id for logged in load_logged_decisions(path)] == expected


@pytest.mark.parametrize("target", [AdultsGetA(), UniformTarget()], ids=["deterministic", "uniform"])
def test_estimates_of_a_known_policy_cover_its_simulated_truth(logged_db: Path, target: AdultsGetA) -> None:
    truth = simulated_truth(target.name)
    result = evaluate(load_logged_decisions(logged_db), target)
    logged = result.logged_value.value
    for name, estimate in (("ips", result.ips), ("snips", result.snips), ("dr", result.dr)):
        assert estimate.contains(truth), (name, estimate, truth)
        assert estimate.high - estimate.low < 0.8, (name, estimate)  # informative, not just wide
    assert result.dr.high - result.dr.low <= result.ips.high - result.ips.low  # the reward model earns its keep
    if isinstance(target, AdultsGetA):
        assert not result.logged_value.contains(truth) and truth > logged  # the target differs from the logger


def test_intervals_cover_the_truth_at_about_their_nominal_rate() -> None:
    """30 independent seeded logs (no database): a 95% interval must cover the truth in most of them."""
    target = AdultsGetA()
    truth = simulated_truth(target.name)
    covered = {"ips": 0, "snips": 0, "dr": 0}
    for seed in range(30):
        logs = [
            LoggedDecision(str(k), c, e, x, p, sum(r), "learner", "logging")
            for k, (c, e, x, p, r) in enumerate(synthetic_logs(100 + seed, 800))
        ]
        result: Evaluation = evaluate(logs, target)
        covered["ips"] += result.ips.contains(truth)
        covered["snips"] += result.snips.contains(truth)
        covered["dr"] += result.dr.contains(truth)
    assert all(count >= 25 for count in covered.values()), covered


def test_evaluate_command_prints_estimates(logged_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--db", str(logged_db), "--policy", "random"]) == 0
    out = capsys.readouterr().out
    assert "doubly robust" in out and "4000 logged decisions" in out
    assert main(["evaluate", "--db", str(logged_db), "--policy", "random", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"] == "random" and data["decisions"] == 4000
    assert data["dr"]["low"] <= simulated_truth(UniformTarget.name) <= data["dr"]["high"]


def test_a_logged_propensity_of_zero_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "signage.db"
    write_database(path, seed=3, n=5)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE decisions SET propensity = 0 WHERE rowid = (SELECT MIN(rowid) FROM decisions)")
    with pytest.raises(EvaluationError, match=r"propensity 0 is outside \(0, 1\]"):
        load_logged_decisions(path)
    assert main(["evaluate", "--db", str(path), "--policy", "random"]) == 2
    assert "propensity 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--db", "missing.db", "--policy", "random"], "no such database"),
        (["--policy", "nope"], "unknown policy"),
    ],
)
def test_evaluate_command_errors(
    logged_db: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--db" not in argv:
        argv = ["--db", str(logged_db), *argv]
    assert main(["evaluate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_target_is_asked_about_the_learner_arms_set_when_the_arms_sets_differ() -> None:
    """Caps are counted per arm: here the control arm has used its part of the hourly caps of items a and c, so a
    control-arm decision's own set lacks them while the learner's has them. With every reward 1, any policy is worth
    exactly 1; asking the target about the drawn arm's set biases IPS (by about +0.16 here), asking about the
    learner arm's (`learner_eligible`) does not."""
    from signage.config.rules import RulesConfig, ScopeRulesConfig
    from signage.decision import Decider
    from signage.decision.policies.uniform import RandomPolicy
    from signage.types import AgeBand, Attributes, AudienceSnapshot, Direction, Viewer, ViewerStatus

    items = [_item("a"), _item("b"), _item("c"), _item("fallback")]
    capped = {name: ScopeRulesConfig(max_plays_per_hour=3) for name in ("a", "c")}
    rules = RulesConfig(control_share=0.3, exploration_floor=0.2, items=capped)
    adult = Viewer("v", 1, ViewerStatus.WATCHER, 0.0, 1.0, 1.0, 1.0, True, 1.0, Attributes(age_band=AgeBand.ADULT),
                   False, Direction.UNKNOWN, 1, False, True)  # fmt: skip
    by_drawn_arm, by_learner_arm = [], []
    for k in range(5_000):
        decider = Decider(RandomPolicy(seed=k + 100_003), items, timezone="UTC", fallback_item="fallback", rules=rules,
                          seed=k)  # fmt: skip
        for name in capped:
            decider.history.started(name, T0 - timedelta(minutes=5), arm="control")
        choice = decider.decide(AudienceSnapshot(0.0, T0, (adult,), True))
        assert choice.decision.item_id in choice.eligible and "a" in choice.learner_eligible
        decision = choice.decision
        by_drawn_arm.append(LoggedDecision(str(k), choice.context, choice.eligible, decision.item_id,
                                           decision.propensity, 1.0, choice.arm, "random"))  # fmt: skip
        by_learner_arm.append(LoggedDecision(str(k), choice.context, choice.learner_eligible, decision.item_id,
                                             decision.propensity, 1.0, choice.arm, "random"))  # fmt: skip
    right = evaluate(by_learner_arm, UniformTarget(), items=items)  # standard error of IPS here: about 0.007
    assert abs(right.ips.value - 1.0) < 0.03 and abs(right.dr.value - 1.0) < 0.03, (right.ips, right.dr)
    wrong = evaluate(by_drawn_arm, UniformTarget(), items=items)
    assert wrong.ips.value > 1.1, wrong.ips


def test_a_replayed_learner_learns_as_the_engines_does(tmp_path: Path) -> None:
    """Replayed over the logs (`PolicyTarget`), a learner learns each exposure's own reward after being asked about
    its decision, with that viewer's own bands beside the group's shares (`for_viewer`, as the engine teaches), from
    detail pages a reader opened too, and nothing from a decision nobody saw."""
    from signage.decision.evaluate import LoggedExposure, PolicyTarget

    class Recorder:
        name = "recorder"

        def __init__(self) -> None:
            self.learned: list[tuple[str, float, dict[str, float]]] = []

        def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
            return [1.0 / len(eligible)] * len(eligible)

        def learn(self, context: Context, item_id: str, reward: float) -> None:
            own = {k: v for k, v in context.features.items() if k.startswith("viewer:")}
            self.learned.append((item_id, reward, own))

    context, eligible, chosen, propensity, _ = synthetic_logs(5, 1)[0]
    child = Attributes(age_band=AgeBand.CHILD, gender=Gender.FEMALE, mood=Mood.POSITIVE)
    seen = (LoggedExposure(2.0, child), LoggedExposure(3.0))
    logs = [
        LoggedDecision("seen", context, eligible, chosen, propensity, 5.0, "learner", "p", exposures=seen),
        LoggedDecision("unseen", context, eligible, chosen, propensity, 0.0, "control", "p"),
        LoggedDecision("detail", context, (chosen,), chosen, 1.0, 4.0, "rule", "interactive", (LoggedExposure(4.0),)),
    ]
    recorder = Recorder()
    evaluate(logs, PolicyTarget(recorder))
    child_bands = {
        "viewer:age_child": 1.0,
        "viewer:gender_female": 1.0,
        "viewer:mood_positive": 1.0,
        "viewer:agegender_child_female": 1.0,
    }
    assert recorder.learned == [(chosen, 2.0, child_bands), (chosen, 3.0, {}), (chosen, 4.0, {})]

    # From a database: each exposure's reward comes back on its decision, with its viewer's bands when the viewers
    # table has them (`write_database` writes a row for every other viewer).
    path = tmp_path / "signage.db"
    write_database(path, seed=11, n=50, viewers_every=2)
    loaded = load_logged_decisions(path)
    with_bands = 0
    for logged, (*_, rewards) in zip(loaded, synthetic_logs(11, 50), strict=True):
        assert sorted(e.reward for e in logged.exposures) == pytest.approx(sorted(rewards))
        for exposure in logged.exposures:
            if exposure.viewer is not None:
                assert exposure.viewer.age_band is AgeBand.ADULT and exposure.viewer.gender is Gender.MALE
                with_bands += 1
    total = sum(len(logged.exposures) for logged in loaded)
    assert 0 < with_bands < total
