"""Every policy on the same simulated arrival streams and seeds, per scenario: attention, hold and notice rates,
ratio to round-robin and % of the oracle, decisions until 70/80/90% of the oracle, select+learn time.

    python benchmarks/policy.py [--days 30] [--seeds 7 8 9] [--scenarios 12 30w] [--items N] [--jobs 2]
                                [--tick-s 0.2] [--ceiling-days 10] [--window-h 2] [--policies linucb contextual ...]
                                [--no-cache | --kept-only]

Each finished run (scenario, policy, seed, days, tick) is kept in `benchmarks/results/runs/`, named with a digest of
the code it ran (the modules of `signage` it imports, the learner's module only for the runs built on it, and the
definitions here that build scenarios and run policies; docstrings and comments left out), and read back rather
than run again: the full default set over 30 days and 3 seeds takes many hours of a 2-core host, so an invocation
that was stopped resumes where it was, a changed learner reruns only the learner's runs, a changed simulator reruns
all, and a change the runs do not import (the player, the perception, off-policy evaluation) reruns none.
`--no-cache` runs everything again; `--kept-only` runs nothing and reports the seeds whose runs of every policy are
kept (the progress of a long invocation).

Scenarios (synthetic pools of text items over 12 categories with the keywords both the simulator's tastes and the
demographic table know; every third item moves; no restricted categories):
- `12`: "12 items", the default store (20% of arrivals are returning groups).
- `30w`: "30 items + novelty wear-off (returning viewers)": half of the arrivals are returning groups, who have
  watched (and worn out) items before. Half of those pass again on the same trip (10-30 min after their first
  pass), the rest come back on a later trip. Re-identification gives a returning viewer the anonymous key of their
  earlier visit only within its time to live (`[perception] reid_ttl_s`, 30 min after last seen, as the product
  does); one back after longer is a stranger to the engine, though the simulator still wears items out for them.
- `30p`: "30 items + personal tastes + wear-off (returning viewers)": `30w` in a store whose shoppers each care
  about a few things of their own. Age band and gender say a fifth of what they say elsewhere
  (`[sim] taste_demographic_scale` 0.2), an item nothing lifts is less relevant (`taste_bias` -3.0) and two personal
  likes weigh more (`taste_likes` 2, `taste_like_boost` 5.0). Each shopper finds 1.6 of the 30 items relevant
  (relevance > 0.5) against 11 in `30w`, and the band means explain 5% of the variance of relevance against 58%
  (600 drawn shoppers). Calibrated on the context ceiling alone, towards the issue's "a linear model of the context
  alone tops out near 74%": development seeds 11 / 12, 2 simulated days, ceiling 74.4 / 73.9% of the oracle (other
  settings tried: scale 0.3, bias -2.5, 3 likes of 4.0 → 78.1 / 80.2; scale 0.3, bias -3.0, 3 likes of 5.0 →
  81.2 / 74.4). Those ceilings were fitted on 3 days of random logs, too few here: fitted on 10 or 20 days it
  reads 81.4 / 80.2% (seed 11), above the issue's 74%, and no taste setting brings a well-fed ceiling there: with
  no demographic taste at all (scale 0, 10 days of logs) it read 83.2%, since motion and wear, which the features
  see, carry most of the oracle's edge under these effect sizes. The scenario is kept as calibrated. The
  typical oracle (true bands, exact wear, not one's own taste) earns 85.8 / 85.0% on those seeds: individual taste
  is worth about 15 points of the oracle on this store, against 3-4 on the default one.
`--items N` replaces the item count of every chosen scenario (for quick checks).
A policy named `contextual:name=value,...` (in `--policies`) is the learner with other settings of
`ContextualPolicy` (a value is a number or `none`), run and kept beside the rest on the same streams: how learner
variants are compared on the development seeds (11 and up; 7-9 report), e.g.
`--policies linucb contextual contextual:steady_settle_to=0.03,steady_average_rate=0.0002 --seeds 11 12`.

For each seed the virtual store brings the same shoppers along the same paths whatever is shown (its population
random stream does not depend on behaviour), so policies are compared on paired streams. The oracle sees the hidden
appeal of each item to each shopper in view (tastes, personal likes, drift and worn-off novelty; see
`signage.simulate.OraclePolicy`). `linucb` is the anchor: disjoint LinUCB over plain context features, in numpy
(`signage.decision.policies.linucb`; river's LinUCBDisjoint is the same algorithm, documented by river as too slow
for practice).

Printed per scenario and policy (means over seeds): hold rate, notice rate, attention seconds per passer-by, its
ratio to round-robin's, hold rate over round-robin's, % of the oracle's attention per passer-by (`late%`: of its
rewarded attention over the last week, or the second half of a shorter run, once learners have settled), the
decisions until a trailing window (`--window-h`, default 2 simulated hours, read every 15 simulated minutes) of
attention first reaches 70% / 80% / 90% of the oracle's over the same hours (worst seed; `ppl->70%`: counting only
decisions made while somebody was in front of the screen; `rew->70%`: the rewards learned by then; only windows with
at least half the oracle's mean window attention count, so a quiet hour with two passers-by says nothing; `held70%`
/ `held80%`: decisions until the share is reached and also held over the 24 h that follow, since a lucky 2-hour
window lets even round-robin "reach" 70%), and select+learn p50/p99 in µs from a micro-benchmark with 50 items
(medians of 3 runs; no engine threads competing for the GIL).

Every run starts at the store's opening (`signage.simulate.OPENING_LOCAL_TIME`, 08:00 local) on a Monday and lasts
`--days` × 24 h, the same for every policy: the first decisions meet the morning's shoppers. (Runs used to start at
midnight, so the first ~3,000 decisions were made to an empty aisle and "decisions until x%" mostly counted those.)
With a 2 h window the earliest a policy can be credited is the first busy window, late in the first morning.

river's LinUCBDisjoint took p50 1.0 ms, p99 34 ms per select+learn with 50 arms and 20 features on the same
(shared) machine, this numpy one p50 56 µs.

`ceiling` is the context ceiling: the contextual learner's own model (the same context × item features, memory
features included) fitted offline by ridge regression on `--ceiling-days` of uniformly random logs from another seed
of the same store (seed + 1000), then frozen and run near-greedily. What it misses of the oracle is what the features
cannot know. It needs plenty of logs: on `30p` (seed 11, 2 simulated days) it read 74.4% of the oracle fitted on 3
days of logs, 81.4% on 10 and 80.2% on 20, so the default is 10 days (it was 3; the 12-item figures of the full
set below were fitted on 3).

`typical_oracle` shows what a policy that sees people (not their own tastes) could earn: the oracle, but weighing
each shopper in view by the mean taste of their true age band and gender (`signage.simulate.OraclePolicy`, typical).
It knows true bands (perception's are sometimes wrong), who in a group is who and their exact wear; it does not know
individual taste or personal likes. Measured (2 simulated days × seeds 7-9): 97.5% of the oracle with 12 items (98.9
/ 95.4 / 98.2), 96.2% with 30 items and wear-off (97.9 / 94.3 / 96.4): on this store individual taste is worth 3-4
points, so most of what separates a learner from the oracle is what it has not learned, or cannot see, of bands,
groups and wear.

`taught_contextual` and `taught_linucb` (not run unless named in `--policies`) measure what each learner's features
and model can hold: the learner is taught, before each choice with people in view, the typical oracle's expected
attention of every shopper in view for every eligible item, under that shopper's perceived bands (`TaughtPolicy`),
and then chooses as it always does. Noise-free targets, plenty of them: what it still misses of the typical oracle
is perception's errors and what its representation cannot express; what the real learner misses of it is what it
has not yet learned from single noisy exposures. Measured (3 simulated days, days 2-3 as % of the oracle, 12 items,
seeds 11 / 12, never the reporting seeds): taught_contextual 93.2 / 92.2, taught_linucb 93.7 / 95.7, typical
oracle 97.2 / 92.2; the learners themselves: contextual 90.9 / 93.6, LinUCB 82.7 / 81.0. With perception made
exact (`attribute_noise` 0, `unknown_age_share` 0): taught_contextual 99.2 / 95.9, typical oracle 100.1 / 96.8,
contextual 90.5 / 92.9, LinUCB 88.8 / 85.6. 30 items with wear-off (seed 11): taught_contextual 92.6,
taught_linucb 94.3, typical oracle 101.3 (greedy per decision, the oracle is not the best policy), contextual 87.5.
Read with care: the contextual learner forgets by updates (its step never falls below 0.03), and teaching gives it
tens of updates per decision, so its taught figure is a floor of what its features hold; LinUCB's ridge never
forgets. Still: the learner is close to what its features reach under this perception (92.3 against 92.7 on 12
items), LinUCB's one model per item over band shares can reach as much once it has the data, and perception,
not the model, is what an exact camera would add (taught_contextual 97.6 with exact bands; the learner itself
does not gain from exact bands, so it is then the noise of single exposures that holds it back). A lasting margin
over LinUCB has to come from what LinUCB cannot do: follow drifting tastes and wear (it never forgets) and see
what returning viewers watched, not from the demographics both see.

Where the figures stand against the issue's targets (30-day runs, the full default set, what each target would
need on this store, why round-robin earns half the oracle here): docs/learner.md.

Writes benchmarks/results/policy.json and one regret plot per scenario, benchmarks/results/policy_regret_<key>.svg:
cumulative attention seconds behind the oracle, per simulated hour, mean over seeds.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import inspect
import json
import os
import random
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from scipy import sparse

from signage.config import Config, load_config
from signage.content import ContentPool
from signage.decision.context import DEMOGRAPHIC_PREFIXES, for_viewer, own_bands
from signage.decision.decider import probabilities_by_id
from signage.decision.policies import POLICY_NAMES, ContextualPolicy, LinUCBPolicy, RandomPolicy, build_policy
from signage.decision.policies.features import item_features
from signage.decision.policy import Policy
from signage.sim import VirtualStore
from signage.simulate import OPENING_LOCAL_TIME, SimulationResult, simulate
from signage.types import Attributes, ContentItem, ContentKind, Context, Decision

RESULTS = Path(__file__).parent / "results"
RUNS = RESULTS / "runs"  # one file per finished run, so an interrupted invocation resumes (`--no-cache`: none)
HOUR_S = 3600.0

CEILING = "ceiling"
TYPICAL = "typical_oracle"
ANCHOR = "linucb"
CEILING_SEED_OFFSET = 1000
DEFAULT_POLICIES = ("round_robin", "random", "demographic", ANCHOR, "contextual", CEILING, TYPICAL)
TAUGHT_PREFIX = "taught_"  # taught_contextual, taught_linucb: a learner's capacity (see `TaughtPolicy`)
TAUGHT = (f"{TAUGHT_PREFIX}contextual", f"{TAUGHT_PREFIX}{ANCHOR}")
LEARNER_MODULE = "decision/policies/contextual.py"  # inside `signage`; only these runs use it:
LEARNER_RUNS = ("contextual", CEILING, f"{TAUGHT_PREFIX}contextual")
VARIANT_PREFIX = "contextual:"  # contextual:steady_settle_to=0.03,average_rate=0.001: the learner, other settings


def variant_settings(policy: str) -> dict[str, float | None]:
    """The `ContextualPolicy` keyword arguments a variant's name sets (`contextual:name=value,...`; a value is a
    number or `none`); empty for any other policy. Raises ValueError on a name the learner does not take or a value
    that is not a number."""
    if not policy.startswith(VARIANT_PREFIX):
        return {}
    taken = set(inspect.signature(ContextualPolicy).parameters) - {"seed"}
    settings: dict[str, float | None] = {}
    for pair in policy.removeprefix(VARIANT_PREFIX).split(","):
        name, equals, value = pair.partition("=")
        if not equals or name not in taken:
            raise ValueError(f"{policy}: {pair!r} is not name=value with a setting of ContextualPolicy")
        try:
            settings[name] = None if value.lower() == "none" else float(value)
        except ValueError:
            raise ValueError(f"{policy}: {name} must be a number or none, got {value!r}") from None
    return settings


def uses_learner(policy: str) -> bool:
    """Whether a run of `policy` runs the learner's module (its kept runs go stale when the learner changes)."""
    return policy in LEARNER_RUNS or policy.startswith(VARIANT_PREFIX)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    items: int
    returning_share: float
    sim: tuple[tuple[str, float], ...] = ()  # other `[sim]` settings of this scenario, as (name, value)


SCENARIOS = {
    "12": Scenario("12", "12 items", 12, 0.2),
    "30w": Scenario("30w", "30 items + novelty wear-off (returning viewers)", 30, 0.5),
    # Calibrated on the context ceiling (about 74% of the oracle, as the simulator), never on a learner.
    "30p": Scenario(
        "30p",
        "30 items + personal tastes + wear-off (returning viewers)",
        30,
        0.5,
        (("taste_demographic_scale", 0.2), ("taste_bias", -3.0), ("taste_likes", 2), ("taste_like_boost", 5.0)),
    ),
}

# Categories and tags in words the simulator's taste rules and the demographic table both know.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("toys", ("kids", "fun", "cartoon", "lego", "family")),
    ("food", ("snack", "pizza", "lunch", "deli", "family")),
    ("coffee", ("coffee", "espresso", "cafe", "morning", "warm")),
    ("sports", ("running", "fitness", "outdoor", "gym", "discount")),
    ("fashion", ("clothing", "shoe", "apparel", "style", "sale")),
    ("beauty", ("cosmetic", "care", "beauty", "skin", "discount")),
    ("electronics", ("tech", "phone", "gaming", "gadget", "new")),
    ("finance", ("bank", "credit", "loan", "insurance", "premium")),
    ("health", ("pharma", "vitamin", "wellness", "medic", "info")),
    ("home", ("garden", "furniture", "kitchen", "diy", "family")),
    ("travel", ("holiday", "flight", "vacation", "premium", "sale")),
    ("store", ("app", "loyalty", "points", "info", "hours")),
)


def scenario_items(count: int) -> tuple[ContentItem, ...]:
    """`count` text items cycling through the categories, three tags each (varied per round), every third moving."""
    items = []
    for i in range(count):
        category, tags = CATEGORIES[i % len(CATEGORIES)]
        round_ = i // len(CATEGORIES)
        chosen = tuple(tags[(round_ + k) % len(tags)] for k in range(3))
        items.append(
            ContentItem(
                f"{category}-{round_ + 1}",
                "",
                ContentKind.TEXT,
                8.0,
                f"adv-{i % 7}",
                category,
                tags=chosen,
                motion=i % 3 == 0,
                title=f"{category} {round_ + 1}",
            )
        )
    return tuple(items)


def scenario_config(scenario: Scenario) -> Config:
    config = load_config(None)
    sim = config.sim.model_copy(update={"returning_share": scenario.returning_share, **dict(scenario.sim)})
    return config.model_copy(update={"sim": sim})


class _Recorder:
    """Uniform random choice that keeps every (context, item, reward) it learns from: the ceiling's training logs."""

    name = "random"
    version = "1"

    def __init__(self, *, seed: int) -> None:
        self._policy = RandomPolicy(seed=seed)
        self.logs: list[tuple[Context, str, float]] = []

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        return self._policy.select(context, eligible)

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        return self._policy.probabilities(context, eligible)

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        self.logs.append((context, item_id, reward))


class FrozenContextual(ContextualPolicy):
    """The contextual learner's model with fixed weights: it chooses but does not learn (the context ceiling)."""

    name = CEILING

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """Frozen."""

    def set_weights(self, weights: npt.NDArray[np.float64]) -> None:
        """The fitted W (rows: context vocabulary, columns: item vocabulary), chosen with as they are."""
        self._quick.weights = weights
        self._quick.average = np.zeros_like(weights)


class TaughtPolicy:
    """A learner taught what the typical oracle knows, to measure what its features and model can hold (capacity).

    Before each choice with people in view it is given, for every shopper in view and every eligible item, the
    typical oracle's expected attention of that shopper (`VirtualStore.notice_within` × `typical_expected_watch_s`:
    the mean taste of their true band, their exact wear, no noise) as that shopper's own reward, in the context of
    the decision seen through their perceived bands: `for_viewer` for the contextual learner, the viewer's one-hot
    bands in place of the group's shares for LinUCB (which reads only the shares). Real rewards teach it only
    with nobody in view (the empty aisle, where the oracle has nothing to say). What it then earns is what its
    representation can reach with noise-free targets and plenty of them; what it misses of the typical oracle is
    perception's errors and what its features cannot express. The policy chooses as it always does."""

    version = "1"

    def __init__(self, policy: Policy, store: VirtualStore) -> None:
        self.policy = policy
        self.name = f"{TAUGHT_PREFIX}{policy.name}"
        self._store = store
        self._shares_only = isinstance(policy, LinUCBPolicy)

    def _viewer_context(self, context: Context, attributes: Attributes) -> Context:
        if not self._shares_only:
            return for_viewer(context, attributes)
        shares = {k: v for k, v in context.features.items() if not k.startswith(DEMOGRAPHIC_PREFIXES)}
        return replace(context, features=shares | own_bands(attributes))

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        store = self._store
        if context.n_present:
            noticed = [store.notice_within(item, item.duration_s) for item in eligible]  # the same for every shopper
            for shopper_id, attributes in store.present_observed():
                taught = self._viewer_context(context, attributes)
                for item, chance in zip(eligible, noticed, strict=True):
                    expected = chance * store.typical_expected_watch_s(shopper_id, item)
                    self.policy.learn(taught, item.item_id, expected)
        return self.policy.select(context, eligible)

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        by_id = probabilities_by_id(self.policy, context, eligible)
        if by_id is None:
            raise TypeError(f"{self.policy.name} has no probabilities()")
        return [by_id[item.item_id] for item in eligible]

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        if not context.n_present:
            self.policy.learn(context, item_id, reward)


def fit_ceiling(
    logs: Sequence[tuple[Context, str, float]], items: Sequence[ContentItem], *, ridge: float = 1.0
) -> FrozenContextual:
    """Ridge regression of the learner's target on the crossed features x(context) ⊗ z(item) (exactly the
    learner's bilinear model: score = xᵀ W z), solved in closed form, frozen into a near-greedy policy."""
    frozen = FrozenContextual(temperature=0.02, epsilon=0.0, seed=0, average_rate=0.0, steady_settle_to=None)
    fixed = {item.item_id: item_features(item) for item in items}
    frozen._items.update(fixed)  # the item catalogue, so memory features (category / tag seen) are the learner's
    rows_x, rows_z, targets = [], [], []
    for context, item_id, reward in logs:
        named_x = frozen.context_named(context)
        named_z = frozen.item_named(context, item_id)
        frozen._context_vocabulary.add(named_x)
        frozen._item_vocabulary.add(named_z)
        rows_x.append(named_x)
        rows_z.append(named_z)
        targets.append(frozen._target(reward))
    cx, cz = frozen._context_vocabulary.index, frozen._item_vocabulary.index
    width = len(cz)
    row_index, col_index, values = [], [], []
    for row, (named_x, named_z) in enumerate(zip(rows_x, rows_z, strict=True)):
        for xn, xv in named_x.items():
            for zn, zv in named_z.items():
                row_index.append(row)
                col_index.append(cx[xn] * width + cz[zn])
                values.append(xv * zv)
    phi = sparse.csr_matrix((values, (row_index, col_index)), shape=(len(targets), len(cx) * width))
    gram = (phi.T @ phi).toarray() + ridge * np.eye(phi.shape[1])
    weights = np.linalg.solve(gram, phi.T @ np.asarray(targets))
    for item in items:  # every pool item known to the frozen model, even one the logs never rewarded
        frozen._items[item.item_id] = fixed[item.item_id]
    frozen.set_weights(weights.reshape(len(cx), width))
    return frozen


def explain_gap(scenario: Scenario, seed: int, *, hours: float = 14.0) -> dict[str, float]:
    """Why round-robin is strong on this store: the attention each shopper who came in view would give each item of
    the pool in one exposure (noticing × expected watch once noticed, from their hidden appeal), read from a day of
    the virtual store with nothing on screen (the same shoppers whatever is shown). Round-robin earns about the mean
    over items, the oracle about the best item: their ratio bounds round-robin's share of the oracle for one viewer
    and one exposure (groups, returns and item changes blur it but do not change its size)."""
    config = scenario_config(scenario).sim.model_copy(update={"seed": seed})
    items = scenario_items(scenario.items)
    zone = ZoneInfo(load_config(None).screen.timezone)
    day = datetime(2026, 3, 2, int(OPENING_LOCAL_TIME[:2]), tzinfo=zone).astimezone(UTC)
    store = VirtualStore(config, start_utc=day, timezone=str(zone), items=items)
    tick = 1.0
    for i in range(1, int(hours * HOUR_S / tick)):
        store.step(i * tick, day + timedelta(seconds=i * tick), None)
    watch_one = store.watch_s_once_noticed
    watch = np.vectorize(watch_one, otypes=[float])
    hold = np.vectorize(store.hold_probability, otypes=[float])

    relevance = np.array([[visit.relevance[item.item_id] for item in items] for visit in store.truth().visits])
    notice = np.array([store.notice_within(item, item.duration_s) for item in items])  # as the oracle weighs it
    value = notice * watch(relevance)
    still = watch(relevance)
    best = relevance[np.arange(len(relevance)), value.argmax(axis=1)]
    hold_rr = float(np.mean(hold(relevance)))
    hold_best = float(np.mean(hold(best)))
    return {
        "visits": float(len(relevance)),
        "mean_relevance": float(relevance.mean()),
        "mean_best_relevance": float(relevance.max(axis=1).mean()),
        "share_relevance_over_0.5": float((relevance > 0.5).mean()),
        "share_relevance_under_0.2": float((relevance < 0.2).mean()),
        "watch_once_noticed_s_appeal_0": watch_one(0.0),
        "watch_once_noticed_s_appeal_1": watch_one(1.0),
        "rr_share_of_oracle_one_exposure": float(value.mean() / value.max(axis=1).mean()),
        "rr_share_if_nothing_moved": float(still.mean() / still.max(axis=1).mean()),
        "rr_share_if_all_irrelevant_but_best": float(notice.mean() * watch_one(0.0) / (notice.max() * watch_one(1.0))),
        "hold_per_noticing_rr": hold_rr,
        "hold_per_noticing_oracle_item": hold_best,
        "hold_ratio_bound": hold_best / hold_rr,
    }


def print_gap(scenario: Scenario, seed: int) -> None:
    gap = explain_gap(scenario, seed)
    print(f"\n{scenario.title}, seed {seed}: one exposure of one shopper (hidden appeal, nothing shown)")
    for key, value in gap.items():
        print(f"  {key:36s} {value:8.3f}")


def run_one(
    scenario: Scenario, policy: str, seed: int, days: float, tick_s: float | None, ceiling_days: float = 3.0
) -> SimulationResult:
    config = scenario_config(scenario)
    pool = ContentPool(base_dir=Path(), items=scenario_items(scenario.items))
    if policy in TAUGHT:

        def taught(store: VirtualStore) -> Policy:
            learner = build_policy(
                policy.removeprefix(TAUGHT_PREFIX), items=pool.rotation, config=config.decision, seed=seed
            )
            return TaughtPolicy(learner, store)

        return simulate(config, pool, policy=policy, days=days, seed=seed, tick_s=tick_s, make_policy=taught)
    if policy.startswith(VARIANT_PREFIX):
        settings = variant_settings(policy)

        def variant(store: VirtualStore) -> Policy:
            return build_policy("contextual", items=pool.rotation, config=config.decision, seed=seed, settings=settings)

        return simulate(config, pool, policy=policy, days=days, seed=seed, tick_s=tick_s, make_policy=variant)
    if policy != CEILING:
        return simulate(config, pool, policy=policy, days=days, seed=seed, tick_s=tick_s)
    recorder = _Recorder(seed=seed + CEILING_SEED_OFFSET)

    def record(store: VirtualStore) -> Policy:
        return recorder

    simulate(
        config,
        pool,
        policy="random",
        days=ceiling_days,
        seed=seed + CEILING_SEED_OFFSET,
        tick_s=tick_s,
        make_policy=record,
    )
    frozen = fit_ceiling(recorder.logs, pool.items)

    def ceiling(store: VirtualStore) -> Policy:
        return frozen

    return simulate(config, pool, policy=CEILING, days=days, seed=seed, tick_s=tick_s, make_policy=ceiling)


def source_digest(sources: Sequence[str]) -> str:
    """A digest of Python sources as code: docstrings and comments left out, so editing the docs keeps the runs."""
    digest = hashlib.sha256()
    for source in sources:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    node.body = body[1:] or [ast.Pass()]
        digest.update(ast.dump(tree).encode())
    return digest.hexdigest()[:16]


def imported_modules(source: str, package: Path) -> list[Path]:
    """The files of `package` that `source` imports, directly or through them (package `__init__` files included,
    imports inside functions too): what a run can execute, so that editing the player or the perception keeps the
    kept runs."""
    root = package.parent
    found: set[Path] = set()
    pending: list[tuple[str, Path | None]] = [(source, None)]

    def module_files(dotted: str) -> list[Path]:
        parts = dotted.split(".")
        files = [root.joinpath(*parts[:n], "__init__.py") for n in range(1, len(parts) + 1)]
        files.append(root.joinpath(*parts).with_suffix(".py"))
        return [file for file in files if file.is_file()]

    while pending:
        text, path = pending.pop()
        for node in ast.walk(ast.parse(text)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level and path is not None:  # relative: from the importing file's package, `level` up
                    parts = path.parent.relative_to(root).parts
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join((*parts, base) if base else parts)
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]  # a name may be a submodule
            for name in names:
                if name.split(".")[0] != package.name:
                    continue
                for file in module_files(name):
                    if file not in found:
                        found.add(file)
                        pending.append((file.read_text(), file))
    return sorted(found)


def run_digest(policy: str) -> str:
    """What a run of `policy` depends on besides its arguments: the modules of `signage` this file imports, directly
    or through them (the learner's module only for the policies built on it, so a changed learner keeps the other
    policies' runs), and this file's definitions that build the scenarios and run the policies (not how results are
    summed up or printed)."""
    package = Path(__file__).parents[1] / "signage"
    paths = imported_modules(Path(__file__).read_text(), package)
    if not uses_learner(policy):
        paths = [path for path in paths if path.relative_to(package).as_posix() != LEARNER_MODULE]
    sources = [path.read_text() for path in paths]
    definitions = (
        Scenario,
        scenario_items,
        scenario_config,
        _Recorder,
        FrozenContextual,
        TaughtPolicy,
        fit_ceiling,
        variant_settings,
    )
    sources += [inspect.getsource(definition) for definition in (*definitions, run_one)]
    sources.append(repr((SCENARIOS, CATEGORIES, CEILING_SEED_OFFSET)))
    return source_digest(sources)


@dataclass(frozen=True)
class RunSpec:
    """One run of the benchmark: the arguments of `run_one`."""

    scenario: Scenario
    policy: str
    seed: int
    days: float
    tick_s: float | None
    ceiling_days: float = 10.0

    def kept_name(self, digest: str) -> str:
        """The file `cached_run` keeps this run in: named by its arguments and the code's digest."""
        scenario = self.scenario
        tick = "sim" if self.tick_s is None else f"{self.tick_s:g}"
        fitted = f"-fit{self.ceiling_days:g}d" if self.policy == CEILING else ""  # only the ceiling depends on it
        return (
            f"{scenario.key}-{scenario.items}-{scenario.returning_share:g}-{self.policy}{fitted}-{self.seed}"
            f"-{self.days:g}d-tick{tick}-{digest}.json.gz"
        )


def read_kept_run(path: Path) -> SimulationResult:
    data = json.loads(gzip.decompress(path.read_bytes()))
    data["rewards"] = tuple(tuple(reward) for reward in data["rewards"])
    return SimulationResult(**data)


def cached_run(spec: RunSpec, cache: Path | None, digest: str) -> SimulationResult:
    """`run_one`, kept under `cache` as one gzipped JSON file per run (`RunSpec.kept_name`): a run already there is
    read back, not run again (a 30-day invocation takes hours; one that was stopped resumes). Written whole or not
    at all."""
    arguments = (spec.scenario, spec.policy, spec.seed, spec.days, spec.tick_s, spec.ceiling_days)
    if cache is None:
        return run_one(*arguments)
    path = cache / spec.kept_name(digest)
    if path.exists():
        return read_kept_run(path)
    result = run_one(*arguments)
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(gzip.compress(json.dumps(asdict(result)).encode()))
    partial.replace(path)
    return result


BIN_H = 0.25  # learning curves are read every 15 simulated minutes
HELD_H = 24.0  # "reached and held": the share also holds over the day that follows
LATE_DAYS = 7.0  # the settled share of the oracle is read over the last week of a run


def binned(result: SimulationResult, bins: int) -> tuple[list[float], list[int], list[int], list[int]]:
    """Reward summed per BIN_H of simulated time, and the decisions / decisions with people in view / rewards
    learned by the end of each bin."""
    reward = [0.0] * bins
    decisions = [0] * bins
    with_people = [0] * bins
    learned = [0] * bins
    for count, (t, decided, present, value) in enumerate(result.rewards, start=1):
        b = min(bins - 1, int(t // (BIN_H * HOUR_S)))
        reward[b] += value
        decisions[b] = max(decisions[b], decided)
        with_people[b] = max(with_people[b], present)
        learned[b] = count
    for b in range(1, bins):
        decisions[b] = max(decisions[b], decisions[b - 1])
        with_people[b] = max(with_people[b], with_people[b - 1])
        learned[b] = max(learned[b], learned[b - 1])
    return reward, decisions, with_people, learned


def hourly(result: SimulationResult, hours: int) -> list[float]:
    """Reward summed per simulated hour."""
    per_bin = round(1 / BIN_H)
    reward = binned(result, hours * per_bin)[0]
    return [sum(reward[h * per_bin : (h + 1) * per_bin]) for h in range(hours)]


def until_share(
    result: SimulationResult,
    oracle: SimulationResult,
    share: float,
    *,
    window_h: float = 2.0,
    held_h: float | None = None,
) -> tuple[int, int, int] | None:
    """(decisions, decisions with people in view, rewards learned) when a trailing `window_h` hours of attention,
    read every BIN_H, first reached `share` of the oracle's over the same hours (same arrivals: the streams are
    paired). Only windows with at least half the oracle's mean window attention count: a quiet hour with two
    passers-by says nothing. The same rule for every policy.

    With `held_h`, the share must also hold over the `held_h` hours from the start of that window (at least half of
    them inside the run): "reached and held", which a 2-hour window that is lucky does not pass (round-robin at
    ~58% of the oracle reaches 70% in some 2-hour window on most seeds)."""
    bins = int(result.days * 24 / BIN_H)
    width = max(1, round(window_h / BIN_H))
    mine, decisions, with_people, learned = binned(result, bins)
    best = binned(oracle, bins)[0]
    ends = range(width - 1, bins)
    if not ends:
        return None
    sums = {end: (sum(mine[end - width + 1 : end + 1]), sum(best[end - width + 1 : end + 1])) for end in ends}
    busy = 0.5 * statistics.fmean(b for _, b in sums.values())
    span = None if held_h is None else round(held_h / BIN_H)
    for end in ends:
        got, oracle_got = sums[end]
        if oracle_got < busy or got < share * oracle_got:
            continue
        if span is not None:
            start = end - width + 1
            if bins - start < span / 2 or sum(mine[start : start + span]) < share * sum(best[start : start + span]):
                continue
        return decisions[end], with_people[end], learned[end]
    return None


def late_share(result: SimulationResult, oracle: SimulationResult) -> float:
    """% of the oracle's attention (rewards delivered) over the last LATE_DAYS simulated days, or the second half of
    a shorter run: where a learner has settled, so a lead won by learning fast is told apart from one that lasts."""
    since = result.days * 86400.0 - min(LATE_DAYS, result.days / 2) * 86400.0
    mine = sum(reward for t, _, _, reward in result.rewards if t >= since)
    best = sum(reward for t, _, _, reward in oracle.rewards if t >= since)
    return 100.0 * mine / best if best else 0.0


def micro(policy_name: str, *, items: int = 50, steps: int = 6000, repeats: int = 3) -> dict[str, float]:
    """select + learn alone with `items` eligible items: p50 and p99 in microseconds, medians of `repeats` runs
    (the machine may be shared: one run's p99 can be another process's time slice). 6,000 steps cover the
    learner's both regimes: the quick memory alone, and from its `settle_updates` (3,000) on, two memories
    learned and compared."""
    runs = [_micro_once(policy_name, items=items, steps=steps) for _ in range(repeats)]
    return {key: statistics.median(run[key] for run in runs) for key in ("p50_us", "p99_us")}


def _micro_once(policy_name: str, *, items: int, steps: int) -> dict[str, float]:
    pool = tuple(
        ContentItem(
            f"item-{i}",
            "",
            ContentKind.TEXT,
            8.0,
            f"adv-{i % 9}",
            f"cat-{i % 7}",
            tags=(f"tag-{i % 11}", f"tag-{i % 13}", f"tag-{i % 5}"),
            motion=i % 3 == 0,
        )
        for i in range(items)
    )
    settings = variant_settings(policy_name)
    policy = build_policy("contextual" if settings else policy_name, items=pool, seed=1, settings=settings)
    rng = random.Random(2)
    now = datetime(2026, 3, 3, 12, tzinfo=UTC)
    times = []
    for step in range(steps):
        child = rng.random()
        features = {"age_child": child, "age_adult": 1 - child, "gender_female": rng.random(), "group_max": 2.0}
        features |= {f"item:item-{(step + k) % items}:seen": 0.5 for k in range(3)}  # returning viewers present
        ctx = Context(now, step % 24, step % 7, 2, 1, child > 0.5, step % 5 == 0, True, features)
        start = time.perf_counter()
        decision = policy.select(ctx, pool)
        policy.learn(ctx, decision.item_id, 10.0 * rng.random())
        times.append(time.perf_counter() - start)
    times.sort()
    return {"p50_us": times[len(times) // 2] * 1e6, "p99_us": times[int(0.99 * len(times))] * 1e6}


_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def regret_curves(
    runs: dict[tuple[str, str, int], SimulationResult],
    scenario: str,
    policies: Sequence[str],
    seeds: Sequence[int],
    hours: int,
) -> dict[str, list[float]]:
    """Cumulative reward (attention seconds) behind the oracle at the end of each simulated hour, mean over seeds."""
    curves: dict[str, list[float]] = {}
    for name in policies:
        if name == "oracle":
            continue
        total = [0.0] * hours
        for seed in seeds:
            mine = hourly(runs[(scenario, name, seed)], hours)
            best = hourly(runs[(scenario, "oracle", seed)], hours)
            running = 0.0
            for h in range(hours):
                running += best[h] - mine[h]
                total[h] += running / len(seeds)
        curves[name] = total
    return curves


def write_svg(path: Path, curves: dict[str, list[float]], *, title: str, x_label: str, y_label: str) -> None:
    """A line chart as a small SVG (no plotting dependency): one polyline per curve, axes, ticks and a legend."""
    width, height, left, right, top, bottom = 760, 440, 80, 170, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max((len(c) for c in curves.values()), default=1)
    lo = min(0.0, *(min(c) for c in curves.values() if c)) if curves else 0.0
    hi = max(1.0, *(max(c) for c in curves.values() if c)) if curves else 1.0

    def x(i: float) -> float:
        return left + plot_w * i / max(1, n)

    def y(v: float) -> float:
        return top + plot_h * (1.0 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">{x_label}</text>',
        f'<text x="18" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 18 {top + plot_h / 2})">{y_label}</text>',
    ]
    for k in range(6):
        value = lo + (hi - lo) * k / 5
        parts.append(
            f'<line x1="{left - 4}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{left - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,.0f}</text>')
        hour = n * k / 5
        parts.append(f'<text x="{x(hour):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{hour:.0f}</text>')
    for index, (name, curve) in enumerate(curves.items()):
        colour = _COLOURS[index % len(_COLOURS)]
        points = " ".join(f"{x(i + 1):.1f},{y(v):.1f}" for i, v in enumerate(curve))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{x(0):.1f},{y(0):.1f} {points}"/>'
        )
        ly = top + 16 * index + 8
        parts.append(
            f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 36}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{width - right + 42}" y="{ly + 4}">{name}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def summarise(
    runs: dict[tuple[str, str, int], SimulationResult],
    scenario: Scenario,
    policies: Sequence[str],
    seeds: Sequence[int],
    window_h: float,
    timings: dict[str, dict[str, float]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in policies:
        per_seed = [runs[(scenario.key, name, seed)] for seed in seeds]
        rr = [runs[(scenario.key, "round_robin", seed)] for seed in seeds]
        oracle = [runs[(scenario.key, "oracle", seed)] for seed in seeds]
        reach: dict[Any, int | list[int | None] | None] = {}
        for share in (0.7, 0.8, 0.9):
            hits = [until_share(r, o, share, window_h=window_h) for r, o in zip(per_seed, oracle, strict=True)]
            reach[share] = None if any(h is None for h in hits) else max(h[0] for h in hits if h)  # worst seed
            reach[f"{share}_people"] = None if any(h is None for h in hits) else max(h[1] for h in hits if h)
            reach[f"{share}_learned"] = None if any(h is None for h in hits) else max(h[2] for h in hits if h)
            reach[f"{share}_per_seed"] = [h[0] if h else None for h in hits]
            held = [
                until_share(r, o, share, window_h=window_h, held_h=HELD_H)
                for r, o in zip(per_seed, oracle, strict=True)
            ]
            reach[f"{share}_held"] = None if any(h is None for h in held) else max(h[0] for h in held if h)
            reach[f"{share}_held_per_seed"] = [h[0] if h else None for h in held]
        late = [late_share(r, o) for r, o in zip(per_seed, oracle, strict=True)]
        rows.append(
            {
                "scenario": scenario.title,
                "policy": name,
                "hold_rate": statistics.fmean(r.hold_rate for r in per_seed),
                "notice_rate": statistics.fmean(r.notice_rate for r in per_seed),
                "attention_per_viewer_s": statistics.fmean(r.attention_per_viewer_s for r in per_seed),
                "attention_vs_round_robin": statistics.fmean(
                    r.attention_per_viewer_s / b.attention_per_viewer_s for r, b in zip(per_seed, rr, strict=True)
                ),
                "hold_vs_round_robin": statistics.fmean(
                    r.hold_rate / b.hold_rate for r, b in zip(per_seed, rr, strict=True)
                ),
                "pct_of_oracle": 100
                * statistics.fmean(
                    r.attention_per_viewer_s / o.attention_per_viewer_s for r, o in zip(per_seed, oracle, strict=True)
                ),
                "pct_of_oracle_per_seed": [
                    100 * r.attention_per_viewer_s / o.attention_per_viewer_s
                    for r, o in zip(per_seed, oracle, strict=True)
                ],
                "pct_of_oracle_late": statistics.fmean(late),
                "pct_of_oracle_late_per_seed": late,
                "decisions_to_70pct": reach[0.7],
                "decisions_to_80pct": reach[0.8],
                "decisions_to_90pct": reach[0.9],
                "decisions_to_70pct_per_seed": reach["0.7_per_seed"],
                "decisions_to_70pct_held": reach["0.7_held"],
                "decisions_to_80pct_held": reach["0.8_held"],
                "decisions_to_90pct_held": reach["0.9_held"],
                "decisions_to_70pct_held_per_seed": reach["0.7_held_per_seed"],
                "decisions_with_people_to_70pct": reach["0.7_people"],
                "decisions_with_people_to_80pct": reach["0.8_people"],
                "decisions_with_people_to_90pct": reach["0.9_people"],
                "rewards_to_70pct": reach["0.7_learned"],
                "rewards_to_80pct": reach["0.8_learned"],
                "rewards_to_90pct": reach["0.9_learned"],
                "select_learn_p99_in_engine_us": max(r.select_us_p99 + r.learn_us_p99 for r in per_seed),
                "micro_50_items": timings.get(name),
                "per_seed": [r.to_json() for r in per_seed],
            }
        )
    return rows


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    print(f"\n{title}")
    width = max(12, *(len(row["policy"]) for row in rows))  # a learner variant's name carries its settings
    header = (
        f"{'policy':{width}s} {'hold':>6s} {'notice':>7s} {'att/vw s':>9s} {'att xRR':>8s} {'hold xRR':>9s} "
        f"{'%oracle':>8s} {'late%':>6s} {'dec->70%':>9s} {'dec->80%':>9s} {'dec->90%':>9s} {'ppl->70%':>9s} "
        f"{'rew->70%':>9s} "
        f"{'held70%':>8s} {'held80%':>8s} "
        f"{'s+l p50us':>10s} "
        f"{'s+l p99us':>10s}"
    )
    print(header)
    for row in rows:
        m = row["micro_50_items"] or {"p50_us": 0.0, "p99_us": 0.0}
        print(
            f"{row['policy']:{width}s} {row['hold_rate']:6.1%} {row['notice_rate']:7.1%} "
            f"{row['attention_per_viewer_s']:9.2f} {row['attention_vs_round_robin']:8.2f} "
            f"{row['hold_vs_round_robin']:9.2f} {row['pct_of_oracle']:8.1f} {row['pct_of_oracle_late']:6.1f} "
            f"{fmt(row['decisions_to_70pct']):>9s} "
            f"{fmt(row['decisions_to_80pct']):>9s} {fmt(row['decisions_to_90pct']):>9s} "
            f"{fmt(row['decisions_with_people_to_70pct']):>9s} {fmt(row['rewards_to_70pct']):>9s} "
            f"{fmt(row['decisions_to_70pct_held']):>8s} {fmt(row['decisions_to_80pct_held']):>8s} "
            f"{m['p50_us']:10.0f} {m['p99_us']:10.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--items", type=int, default=None, help="item count for every chosen scenario")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tick-s", type=float, default=None, help="override sim.tick_s (0.2 halves the time)")
    parser.add_argument("--policies", nargs="+", default=list(DEFAULT_POLICIES))
    parser.add_argument("--ceiling-days", type=float, default=10.0, help="days of random logs the ceiling is fit on")
    parser.add_argument(
        "--explain", action="store_true", help="print why round-robin is strong here (see explain_gap) and stop"
    )
    parser.add_argument("--window-h", type=float, default=2.0, help="trailing window (hours) for decisions until x%%")
    parser.add_argument(
        "--kept-only",
        action="store_true",
        help="run nothing: report the seeds whose runs of every policy are kept (progress of a long invocation)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help=f"run everything again (default: reuse finished runs in {RUNS.name}/)"
    )
    args = parser.parse_args()
    for name in args.policies:
        try:
            variant_settings(name)
        except ValueError as exc:
            parser.error(str(exc))
    policies = [p for p in args.policies if p != "oracle"] + ["oracle"]
    if "round_robin" not in policies:
        policies.insert(0, "round_robin")
    scenarios = [SCENARIOS[key] for key in args.scenarios]
    if args.items is not None:
        scenarios = [
            Scenario(s.key, f"{s.title} ({args.items} items)", args.items, s.returning_share) for s in scenarios
        ]
    if args.explain:
        for scenario in scenarios:
            for seed in args.seeds:
                print_gap(scenario, seed)
        return
    started = time.perf_counter()
    runs: dict[tuple[str, str, int], SimulationResult] = {}
    if args.kept_only and args.no_cache:
        parser.error("--kept-only reads the kept runs; it cannot go with --no-cache")
    cache = None if args.no_cache else RUNS
    digests = {name: "" if cache is None else run_digest(name) for name in policies}
    seeds_of = {scenario.key: list(args.seeds) for scenario in scenarios}
    if args.kept_only:
        days = args.days
        for scenario in scenarios:
            for seed in args.seeds:
                paths = {
                    name: RUNS / RunSpec(scenario, name, seed, days, args.tick_s, args.ceiling_days).kept_name(digest)
                    for name, digest in digests.items()
                }
                if all(path.exists() for path in paths.values()):
                    runs.update({(scenario.key, name, seed): read_kept_run(path) for name, path in paths.items()})
                else:
                    seeds_of[scenario.key].remove(seed)
        scenarios = [scenario for scenario in scenarios if seeds_of[scenario.key]]
    with ProcessPoolExecutor(max_workers=args.jobs) as executor:
        futures = {
            (scenario.key, name, seed): executor.submit(
                cached_run,
                RunSpec(scenario, name, seed, args.days, args.tick_s, args.ceiling_days),
                cache,
                digests[name],
            )
            for scenario in scenarios
            for seed in args.seeds
            for name in policies
            if not args.kept_only
        }
        for key, future in futures.items():
            runs[key] = future.result()
    elapsed = time.perf_counter() - started
    timings = {name: micro(name) for name in policies if name in POLICY_NAMES or name.startswith(VARIANT_PREFIX)}
    print(
        f"policies on the virtual store: {args.days:g} days from the store's opening ({OPENING_LOCAL_TIME} local) x "
        f"seeds {args.seeds}, tick {args.tick_s or 'sim.tick_s'} s, {elapsed:.0f} s wall; decisions until x% of the "
        f"oracle: trailing {args.window_h:g} h windows read every {BIN_H * 60:.0f} min, worst seed"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "days": args.days,
        "seeds": args.seeds,
        "tick_s": args.tick_s,
        "start_local_time": OPENING_LOCAL_TIME,
        "window_h": args.window_h,
        "scenarios": {},
    }
    for scenario in scenarios:
        seeds = seeds_of[scenario.key]
        rows = summarise(runs, scenario, policies, seeds, args.window_h, timings)
        print_table(f"{scenario.title}: {args.days:g} day(s) x {len(seeds)} seed(s) {seeds}", rows)
        plot = RESULTS / f"policy_regret_{scenario.key}.svg"
        curves = regret_curves(runs, scenario.key, policies, seeds, max(1, int(args.days * 24)))
        write_svg(
            plot,
            curves,
            title=f"{scenario.title}: regret against the oracle ({args.days:g} days, seeds "
            f"{' '.join(map(str, seeds))})",
            x_label="simulated hours",
            y_label="cumulative attention s behind the oracle",
        )
        report["scenarios"][scenario.key] = {
            "title": scenario.title,
            "items": scenario.items,
            "seeds": seeds,
            "rows": rows,
        }
    out = RESULTS / "policy.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out} and {RESULTS / 'policy_regret_*.svg'}")


if __name__ == "__main__":
    main()
