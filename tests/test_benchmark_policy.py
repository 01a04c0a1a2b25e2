"""benchmarks/policy.py's references that are more than a policy run: the taught capacity of a learner."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from signage.content import ContentPool
from signage.decision.context import for_viewer
from signage.decision.policies import build_policy
from signage.sim.tastes import TasteModel
from signage.simulate import SimulationResult, simulate
from signage.types import AgeBand, Attributes, Context, Gender, Mood

BENCHMARK = Path(__file__).parents[1] / "benchmarks" / "policy.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("policy_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def one_viewer(age: AgeBand, gender: Gender) -> Context:
    """A lunchtime decision with one viewer of these bands in front of the screen."""
    shares = {f"age_{age}": 1.0, f"gender_{gender}": 1.0, f"mood_{Mood.NEUTRAL}": 1.0, "group_max": 1.0, "solo": 1.0}
    return Context(datetime(2026, 3, 3, 12, tzinfo=UTC), 12, 1, 1, 0, age is AgeBand.CHILD, False, True, shares)


def child_in_a_family(learner: str) -> Context:
    """A boy with his mother at lunch, as the learner is taught a child's expectation: the contextual learner under
    the boy's own bands in the family's context (`for_viewer`; children come with adults, so a solo child is outside
    what it was taught and its ranking there is a toss-up), LinUCB, which reads shares only, a lone boy."""
    if learner != "contextual":
        return one_viewer(AgeBand.CHILD, Gender.MALE)
    family = {
        f"age_{AgeBand.CHILD}": 0.5,
        f"age_{AgeBand.ADULT}": 0.5,
        f"gender_{Gender.MALE}": 0.5,
        f"gender_{Gender.FEMALE}": 0.5,
        f"mood_{Mood.NEUTRAL}": 1.0,
        f"agegender_{AgeBand.CHILD}_{Gender.MALE}": 0.5,
        f"agegender_{AgeBand.ADULT}_{Gender.FEMALE}": 0.5,
        "group_max": 2.0,
        "family": 1.0,
        "mixed_gender": 1.0,
        "together_share": 1.0,
    }
    context = Context(datetime(2026, 3, 3, 12, tzinfo=UTC), 12, 1, 2, 0, True, False, True, family)
    return for_viewer(context, Attributes(AgeBand.CHILD, 0.9, Gender.MALE, 0.9, Mood.NEUTRAL, 0.9))


@pytest.mark.parametrize("learner", ["contextual", "linucb"])
def test_a_taught_learner_ranks_items_as_the_typical_oracle_does(bench: ModuleType, learner: str) -> None:
    """Taught the typical oracle's expectations for two simulated hours (real rewards ignored while people are in
    view), the learner prefers coffee to food for an adult and food (snacks, pizza) to coffee for a child, as the
    simulator's tastes say, and it never learned a real reward given with people in view."""
    scenario = bench.SCENARIOS["12"]
    config = bench.scenario_config(scenario)
    pool = ContentPool(base_dir=Path(), items=bench.scenario_items(12))
    taught: list[object] = []

    def make(store: object) -> object:
        policy = bench.TaughtPolicy(build_policy(learner, items=pool.rotation, config=config.decision, seed=3), store)
        taught.append(policy)
        return policy

    result = simulate(
        config,
        pool,
        policy=f"taught_{learner}",
        days=2 / 24,
        seed=3,
        tick_s=0.2,
        make_policy=make,
        start_local_time="12:00",
    )
    assert result.decisions_with_people > 100
    policy = taught[0]
    items = {item.item_id: item for item in pool.items}
    coffee_food = [items["coffee-1"], items["food-1"]]  # both still: taste decides
    adult = policy.probabilities(one_viewer(AgeBand.ADULT, Gender.FEMALE), coffee_food)
    child = policy.probabilities(child_in_a_family(learner), coffee_food)
    assert adult[0] > 0.5 > child[0]
    inner = policy.policy
    before = inner.probabilities(one_viewer(AgeBand.ADULT, Gender.FEMALE), coffee_food)
    for _ in range(50):  # a real reward with people in view: ignored
        policy.learn(one_viewer(AgeBand.ADULT, Gender.FEMALE), "food-1", 60.0)
    assert inner.probabilities(one_viewer(AgeBand.ADULT, Gender.FEMALE), coffee_food) == before


def test_the_taught_contextual_learner_is_taught_per_viewer(bench: ModuleType) -> None:
    """The contextual learner is taught each shopper's expectation under their own bands (`for_viewer`); LinUCB,
    which reads only shares, with the viewer's one-hot bands in place of the group's shares."""
    attributes = Attributes(AgeBand.CHILD, 0.8, Gender.FEMALE, 0.9, Mood.POSITIVE, 0.7)
    group = one_viewer(AgeBand.ADULT, Gender.MALE)
    contextual = bench.TaughtPolicy(build_policy("contextual", items=()), store=None)
    assert contextual._viewer_context(group, attributes) == for_viewer(group, attributes)
    linucb = bench.TaughtPolicy(build_policy("linucb", items=()), store=None)
    features = linucb._viewer_context(group, attributes).features
    assert features["age_child"] == features["gender_female"] == features["mood_positive"] == 1.0
    assert "age_adult" not in features and "gender_male" not in features
    assert features["group_max"] == 1.0


def test_the_late_share_reads_only_the_end_of_a_run(bench: ModuleType) -> None:
    """`late%`: the share of the oracle's rewarded attention over the second half of a 2-day run (the last week of
    a longer one), whatever happened before."""

    def run(days: float, rewards: list[tuple[float, float]]) -> SimulationResult:
        timed = tuple((t, 0, 0, reward) for t, reward in rewards)
        return SimulationResult("p", 1, days, 0, len(timed), 0, 1, 0, 0, 0.0, 0, 0, 0, 0, 0.0, rewards=timed)

    day = 86400.0
    learner = run(2, [(0.5 * day, 1.0), (1.5 * day, 8.0)])
    oracle = run(2, [(0.5 * day, 10.0), (1.5 * day, 10.0)])
    assert bench.late_share(learner, oracle) == pytest.approx(80.0)
    month = run(30, [(20 * day, 1.0), (25 * day, 3.0)])
    best = run(30, [(20 * day, 4.0), (25 * day, 4.0)])
    assert bench.late_share(month, best) == pytest.approx(75.0)


def test_the_context_ceiling_chooses_with_the_weights_it_was_fitted(bench: ModuleType) -> None:
    """The ceiling's ridge fit on logs where adults watch coffee and children food: frozen, it prefers coffee for an
    adult and food for a child, and learning moves nothing."""
    pool = ContentPool(base_dir=Path(), items=bench.scenario_items(12))
    items = {item.item_id: item for item in pool.items}
    coffee_food = [items["coffee-1"], items["food-1"]]
    adult, child = one_viewer(AgeBand.ADULT, Gender.FEMALE), one_viewer(AgeBand.CHILD, Gender.MALE)
    logs = [
        (viewer, item_id, reward)
        for _ in range(20)
        for viewer, liked in ((adult, "coffee-1"), (child, "food-1"))
        for item_id, reward in ((liked, 8.0), ("coffee-1" if liked == "food-1" else "food-1", 1.0))
    ]
    frozen = bench.fit_ceiling(logs, pool.items)
    assert frozen.probabilities(adult, coffee_food)[0] > 0.9
    assert frozen.probabilities(child, coffee_food)[1] > 0.9
    before = frozen.probabilities(adult, coffee_food)
    frozen.learn(adult, "food-1", 60.0)
    assert frozen.probabilities(adult, coffee_food) == before


def test_a_finished_run_is_read_back_not_run_again(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped 30-day invocation resumes: each finished run is kept as a file named by its arguments and the
    code's digest, and read back equal; another seed or digest runs anew."""
    scenario = bench.Scenario("t", "tiny", 4, 0.2)
    first = bench.cached_run(bench.RunSpec(scenario, "round_robin", 3, 0.02, 0.2), tmp_path, "abc")
    assert len(list(tmp_path.glob("*.json.gz"))) == 1 and not list(tmp_path.glob("*.part"))
    calls: list[int] = []
    monkeypatch.setattr(bench, "run_one", lambda *args: calls.append(1) or first)
    assert bench.cached_run(bench.RunSpec(scenario, "round_robin", 3, 0.02, 0.2), tmp_path, "abc") == first
    assert first.rewards and calls == []
    bench.cached_run(bench.RunSpec(scenario, "round_robin", 4, 0.02, 0.2), tmp_path, "abc")
    bench.cached_run(bench.RunSpec(scenario, "round_robin", 3, 0.02, 0.2), tmp_path, "abd")
    assert len(calls) == 2


def test_the_run_digest_ignores_docs_but_not_code(bench: ModuleType) -> None:
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # why\n'
    assert bench.source_digest([code]) == bench.source_digest([code.replace("Doc.", "Other doc.").replace("why", "")])
    assert bench.source_digest([code]) != bench.source_digest([code.replace("x + 1", "x + 2")])
    learner = bench.run_digest("contextual")
    assert len(learner) == 16 and bench.run_digest("ceiling") == learner
    assert bench.run_digest("linucb") == bench.run_digest("oracle") != learner  # a changed learner keeps their runs


def test_the_run_digest_reads_the_modules_a_run_imports(bench: ModuleType, tmp_path: Path) -> None:
    """Only what a run can execute: the package's modules imported, directly, through others, inside a function or
    relatively, with their packages' `__init__` files; a module nothing imports (the player, say) is left out, so
    editing it keeps the kept runs."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "import pkg.sub.b\n",
        "sub/__init__.py": "",
        "sub/b.py": "def f():\n    from . import c\n",
        "sub/c.py": "from pkg import d\n",
        "d.py": "import os\n",
        "unused.py": "import pkg.a\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    found = bench.imported_modules("import json\nfrom pkg.a import thing\n", package)
    assert [path.relative_to(package).as_posix() for path in found] == [
        "__init__.py",
        "a.py",
        "d.py",
        "sub/__init__.py",
        "sub/b.py",
        "sub/c.py",
    ]
    real = bench.imported_modules(Path(bench.__file__).read_text(), Path(bench.__file__).parents[1] / "signage")
    names = {path.name for path in real}
    assert {"simulate.py", "contextual.py", "decider.py"} <= names and "evaluate.py" not in names


def test_a_learner_variant_runs_with_its_own_settings(bench: ModuleType) -> None:
    """`contextual:name=value,...` is the learner with other constructor settings, run on the same streams as the
    rest (development comparisons from the command line); a setting it does not take is refused up front."""
    policy = "contextual:steady_settle_to=none,average_rate=0.001"
    assert bench.variant_settings(policy) == {"steady_settle_to": None, "average_rate": 0.001}
    assert bench.variant_settings("contextual") == {} and bench.uses_learner(policy)
    assert bench.run_digest(policy) == bench.run_digest("contextual")
    for wrong in ("contextual:steady=0.1", "contextual:average_rate", "contextual:average_rate=fast"):
        with pytest.raises(ValueError, match="contextual:"):
            bench.variant_settings(wrong)
    with pytest.raises(ValueError, match="only the contextual learner"):
        build_policy("linucb", items=(), settings={"average_rate": 0.001})
    learner = build_policy("contextual", items=(), settings=bench.variant_settings(policy))
    assert len(learner._memories) == 1 and learner._quick.average_rate == 0.001
    over_config = build_policy("contextual", items=(), settings={"learning_rate": 0.05, "empty_temperature": 0.5})
    assert (over_config.learning_rate, over_config.empty_temperature) == (0.05, 0.5)  # a variant's settings win
    scenario = bench.Scenario("t", "tiny", 4, 0.2)
    variant = bench.run_one(scenario, policy, 3, 0.05, 0.2)
    plain = bench.run_one(scenario, "contextual", 3, 0.05, 0.2)
    assert variant.policy == policy and variant.decisions > 0
    assert variant.passers_by == plain.passers_by  # the same shoppers pass whatever is shown


def test_kept_only_reports_the_seeds_whose_runs_are_all_kept(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--kept-only` runs nothing: a seed with every policy's run kept is reported, one with a run missing is not."""
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    scenario = bench.Scenario("12", "12 items (4 items)", 4, 0.2)
    for policy in ("round_robin", "oracle"):
        bench.cached_run(bench.RunSpec(scenario, policy, 3, 0.02, 0.2), tmp_path / "runs", bench.run_digest(policy))
    bench.cached_run(bench.RunSpec(scenario, "oracle", 5, 0.02, 0.2), tmp_path / "runs", bench.run_digest("oracle"))
    kept = len(list((tmp_path / "runs").iterdir()))
    argv = ["policy.py", "--kept-only", "--items", "4", "--days", "0.02", "--tick-s", "0.2", "--scenarios", "12"]
    monkeypatch.setattr(sys, "argv", [*argv, "--seeds", "3", "5", "--policies", "round_robin"])
    bench.main()
    report = json.loads((tmp_path / "policy.json").read_text())
    assert report["scenarios"]["12"]["seeds"] == [3]
    assert [row["policy"] for row in report["scenarios"]["12"]["rows"]] == ["round_robin", "oracle"]
    assert len(list((tmp_path / "runs").iterdir())) == kept  # nothing was run


def test_the_personal_taste_scenario_leaves_little_to_the_bands(bench: ModuleType) -> None:
    """`30p`: each shopper finds a couple of the 30 items relevant, and age band and gender explain little of which
    (the share of the variance of relevance that the band means explain), unlike `30w` with the default tastes."""
    items = bench.scenario_items(30)
    bands = [(age, gender) for age in AgeBand if age is not AgeBand.UNKNOWN for gender in (Gender.FEMALE, Gender.MALE)]

    def tastes(key: str) -> tuple[float, float]:
        model = TasteModel.from_config(items, bench.scenario_config(bench.SCENARIOS[key]).sim)
        rng = np.random.default_rng(0)
        by_band = {}
        for age, gender in bands:
            draws = [model.draw(rng, age, gender) for _ in range(60)]
            by_band[age, gender] = np.array([[model.relevance(t, age, gender, item) for item in items] for t in draws])
        relevance = np.concatenate(list(by_band.values()))
        residual = np.concatenate([rows - rows.mean(axis=0) for rows in by_band.values()])
        return float((relevance > 0.5).sum(axis=1).mean()), float(1.0 - residual.var() / relevance.var())

    relevant_p, explained_p = tastes("30p")
    relevant_w, explained_w = tastes("30w")
    assert 0.5 < relevant_p < 3.0 < relevant_w
    assert explained_p < 0.15 < 0.4 < explained_w
