"""Off-policy evaluation: how would another policy have done on the decisions this screen logged?

Each logged decision carries its context, eligible set, chosen item and the true probability with which it was
chosen (the Decider's propensity, control-arm and exploration mixing included). The target is asked about the
learner arm's eligible set (`decisions.learner_eligible`; the logged `eligible` in older databases): caps and shares
are counted per arm, so a control-arm decision's own set can differ from the one a policy in the learner's place
would have faced, and asking about it would bias the estimates. The logged item may then be outside the target's
set: its weight is 0, as it should be. Its reward is the sum of the
rewards of the exposures it caused (exposures.decision_id -> decisions.id; 0 when nobody was exposed). For a target
policy pi that gives a probability to every eligible item:

- IPS: mean of w * r with w = pi(logged item) / propensity. Unbiased; its variance grows with the weights.
- SNIPS (self-normalised): sum(w * r) / sum(w). A little biased, far steadier when weights are large.
- DR (doubly robust): mean of sum_a pi(a) q(x, a) + w * (r - q(x, a_logged)), with q a reward model (ridge per
  item on the context's numbers, cross-fitted on two halves so no decision is predicted by a model that saw it).
  Unbiased when the propensities are right, and with less variance when q is good.

Intervals are 95% normal intervals from the per-decision terms (delta method for SNIPS). The effective sample size
(sum w)^2 / sum w^2 says how many logged decisions the estimate is really worth.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from signage.clock import parse_iso_utc
from signage.config.decision import DecisionConfig
from signage.decision.context import for_viewer
from signage.types import AgeBand, Attributes, ContentItem, ContentKind, Context, Gender, Mood

Z95 = 1.959963984540054


class EvaluationError(Exception):
    """A database that cannot be evaluated (missing, not a signage database, no decisions)."""


@dataclass(frozen=True)
class LoggedExposure:
    """One viewer's exposure to a logged decision's item: its reward, and that viewer's bands as the viewers table
    keeps them (None when the table has no row for them)."""

    reward: float
    viewer: Attributes | None = None


@dataclass(frozen=True)
class LoggedDecision:
    decision_id: str
    context: Context
    eligible: tuple[str, ...]  # the set the target is asked about: the learner arm's
    item_id: str
    propensity: float
    reward: float
    arm: str
    policy: str
    exposures: tuple[LoggedExposure, ...] = ()  # each exposure on its own (what the engine's learner learned)


class TargetPolicy(Protocol):
    """A policy to evaluate: its probability of each eligible item in a context (side-effect free)."""

    name: str

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    @classmethod
    def normal(cls, value: float, std_error: float) -> Estimate:
        return cls(value, value - Z95 * std_error, value + Z95 * std_error)

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True)
class Evaluation:
    policy: str
    decisions: int
    logged_value: Estimate  # what the logging policy earned per decision
    ips: Estimate
    snips: Estimate
    dr: Estimate
    effective_sample_size: float
    unsupported: int  # decisions whose logged item the target would never choose (weight 0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def context_from_json(data: Mapping[str, Any], t_utc: datetime) -> Context:
    return Context(
        t_utc=t_utc,
        local_hour=int(data["local_hour"]),
        weekday=int(data["weekday"]),
        n_present=int(data["n_present"]),
        n_watching=int(data["n_watching"]),
        minor_possible=bool(data["minor_possible"]),
        returning_present=bool(data["returning_present"]),
        camera_ok=bool(data["camera_ok"]),
        features={str(k): float(v) for k, v in dict(data.get("features", {})).items()},
    )


def load_logged_decisions(db_path: str | Path, *, session_id: str | None = None) -> list[LoggedDecision]:
    """Decisions in logged order, each with the summed reward of its exposures (read-only access)."""
    path = Path(db_path)
    if not path.is_file():
        raise EvaluationError(f"{path}: no such database file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise EvaluationError(f"{path}: cannot open: {exc}") from None
    try:
        where, params = ("WHERE d.session_id = ?", (session_id,)) if session_id else ("", ())
        rows = db.execute(
            "SELECT d.id, d.t_utc, d.context, COALESCE(d.learner_eligible, d.eligible), d.item_id, d.propensity, "
            "d.arm, d.policy, COALESCE(e.reward, 0) FROM decisions d "
            "LEFT JOIN (SELECT decision_id, SUM(reward) AS reward FROM exposures WHERE reward IS NOT NULL "
            "GROUP BY decision_id) e ON e.decision_id = d.id "
            # Sessions in the order they started, each on its own monotonic clock (it restarts every session).
            "LEFT JOIN sessions s ON s.id = d.session_id "
            f"{where} ORDER BY COALESCE(s.started_utc, d.t_utc), d.session_id, d.t_mono, d.seq",
            params,
        ).fetchall()
        per_exposure: dict[str, list[LoggedExposure]] = {}
        for exposure_id, decision_id, reward, *bands in db.execute(
            "SELECT e.id, e.decision_id, e.reward, v.age_band, v.gender, v.mood FROM exposures e "
            "LEFT JOIN viewers v ON v.id = e.viewer_id WHERE e.reward IS NOT NULL ORDER BY e.seq"
        ).fetchall():
            exposure = LoggedExposure(float(reward), _viewer_bands(path, str(exposure_id), bands))
            per_exposure.setdefault(str(decision_id), []).append(exposure)
    except sqlite3.Error as exc:
        raise EvaluationError(f"{path}: not a signage database ({exc})") from None
    finally:
        db.close()
    return [
        dataclasses.replace(decision, exposures=tuple(per_exposure.get(decision.decision_id, ())))
        for decision in (_logged_decision(path, row) for row in rows)
    ]


def _viewer_bands(path: Path, exposure_id: str, bands: Sequence[Any]) -> Attributes | None:
    """The exposed viewer's age band, gender and mood from their viewers row (the last the engine knew of them;
    the engine teaches with the bands it knew when the exposure closed); None without a row."""
    age_band, gender, mood = bands
    if age_band is None:
        return None
    try:
        return Attributes(age_band=AgeBand(age_band), gender=Gender(gender), mood=Mood(mood))
    except ValueError as exc:
        raise EvaluationError(f"{path}: exposure {exposure_id}: its viewer's bands cannot be read ({exc})") from None


def _logged_decision(path: Path, row: Sequence[Any]) -> LoggedDecision:
    """One row of the query above; a row that cannot be evaluated (a propensity outside (0, 1], a context or an
    eligible set that does not parse) is an error naming the decision, never a silent skip."""
    try:
        decision = LoggedDecision(
            decision_id=str(row[0]),
            context=context_from_json(json.loads(row[2]), parse_iso_utc(row[1])),
            eligible=tuple(json.loads(row[3])),
            item_id=str(row[4]),
            propensity=float(row[5]),
            reward=float(row[8]),
            arm=str(row[6]),
            policy=str(row[7]),
        )
    except (KeyError, TypeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise EvaluationError(f"{path}: decision {row[0]}: cannot be read ({type(exc).__name__}: {exc})") from None
    if not 0.0 < decision.propensity <= 1.0:
        raise EvaluationError(
            f"{path}: decision {row[0]}: propensity {decision.propensity:g} is outside (0, 1]: "
            "inverse propensity weights cannot be formed"
        )
    return decision


def context_vector(context: Context, feature_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """The context's numbers for the reward model: counts, flags, the hour on a circle, and the features."""
    angle = 2 * math.pi * context.local_hour / 24
    base = [
        1.0,
        math.sin(angle),
        math.cos(angle),
        float(context.n_present),
        float(context.n_watching),
        float(context.minor_possible),
        float(context.returning_present),
        float(context.camera_ok),
    ]
    return np.array(base + [context.features.get(name, 0.0) for name in feature_names], dtype=np.float64)


class RidgeRewardModel:
    """One ridge regression per item on the context vector (the intercept unpenalised); items seen too rarely
    fall back to the mean reward of all decisions."""

    def __init__(self, *, penalty: float = 1.0, min_samples: int = 5) -> None:
        self._penalty = penalty
        self._min_samples = min_samples
        self._weights: dict[str, npt.NDArray[np.float64]] = {}
        self._mean = 0.0

    def fit(self, vectors: npt.NDArray[np.float64], items: Sequence[str], rewards: npt.NDArray[np.float64]) -> None:
        self._mean = float(rewards.mean()) if len(rewards) else 0.0
        dims = vectors.shape[1]
        penalty = self._penalty * np.eye(dims)
        penalty[0, 0] = 1e-6
        item_array = np.array(items)
        for item_id in sorted(set(items)):
            mask = item_array == item_id
            if mask.sum() < self._min_samples:
                continue
            x, y = vectors[mask], rewards[mask]
            self._weights[item_id] = np.linalg.solve(x.T @ x + penalty, x.T @ y)

    def predict(self, vector: npt.NDArray[np.float64], item_id: str) -> float:
        weights = self._weights.get(item_id)
        return self._mean if weights is None else float(vector @ weights)


def _placeholder(item_id: str) -> ContentItem:
    return ContentItem(item_id, "", ContentKind.TEXT, 1.0, "", "", title=item_id)


def evaluate(
    logs: Sequence[LoggedDecision], target: TargetPolicy, *, items: Sequence[ContentItem] = (), folds: int = 2
) -> Evaluation:
    """IPS, SNIPS and DR estimates of `target`'s mean reward per decision on `logs`. `items` gives the target the
    pool's item features; an id the pool no longer has is passed as a bare item."""
    if not logs:
        raise EvaluationError("no logged decisions to evaluate")
    by_id = {item.item_id: item for item in items}
    n = len(logs)
    rewards = np.array([d.reward for d in logs], dtype=np.float64)
    names = sorted({name for d in logs for name in d.context.features})
    vectors = np.stack([context_vector(d.context, names) for d in logs])
    targets: list[Mapping[str, float]] = []
    for d in logs:
        eligible = [by_id.get(i) or _placeholder(i) for i in d.eligible]
        targets.append(target.probabilities(d.context, eligible))
        observe = getattr(target, "observe", None)
        if observe is not None:
            # A replayed learner learns from the past of each decision only, and as the engine's does: from each
            # exposure's reward with that viewer's own bands (a decision nobody saw teaches nothing), detail pages
            # a reader opened included.
            for exposure in d.exposures:
                learned = d.context if exposure.viewer is None else for_viewer(d.context, exposure.viewer)
                observe(learned, d.item_id, exposure.reward)
    weights = np.array([targets[k].get(d.item_id, 0.0) / d.propensity for k, d in enumerate(logs)])

    # Doubly robust with cross-fitting: each fold's reward model is fitted on the other folds only.
    fold_of = np.arange(n) % folds
    direct = np.zeros(n)
    logged_prediction = np.zeros(n)
    for fold in range(folds):
        model = RidgeRewardModel()
        train = fold_of != fold
        model.fit(vectors[train], [d.item_id for d, t in zip(logs, train, strict=True) if t], rewards[train])
        for k in np.flatnonzero(~train).tolist():
            probs = targets[k]
            direct[k] = sum(p * model.predict(vectors[k], a) for a, p in probs.items() if p > 0)
            logged_prediction[k] = model.predict(vectors[k], logs[k].item_id)
    dr_terms = direct + weights * (rewards - logged_prediction)
    ips_terms = weights * rewards

    def mean_estimate(terms: npt.NDArray[np.float64]) -> Estimate:
        std_error = float(terms.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
        return Estimate.normal(float(terms.mean()), std_error)

    weight_sum = float(weights.sum())
    if weight_sum > 0:
        snips_value = float((weights * rewards).sum() / weight_sum)
        mean_weight = weight_sum / n
        variance = float(np.mean((weights * (rewards - snips_value)) ** 2)) / mean_weight**2
        snips = Estimate.normal(snips_value, math.sqrt(variance / n))
    else:
        snips = Estimate(math.nan, math.nan, math.nan)
    square_sum = float((weights**2).sum())
    return Evaluation(
        policy=target.name,
        decisions=n,
        logged_value=mean_estimate(rewards),
        ips=mean_estimate(ips_terms),
        snips=snips,
        dr=mean_estimate(dr_terms),
        effective_sample_size=weight_sum**2 / square_sum if square_sum > 0 else 0.0,
        unsupported=int(sum(1 for w in weights if w == 0)),
    )


# -- target policies by name -------------------------------------------------------------------------------------
class UniformTarget:
    """Each eligible item with the same probability."""

    name = "random"

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> Mapping[str, float]:
        return {item.item_id: 1.0 / len(eligible) for item in eligible}


class PolicyTarget:
    """Any engine policy as a target, replayed over the logs in order.

    Its probabilities come from its `probabilities` when it has them; a policy without them must be deterministic
    and is asked to pick (a playlist then moves on as it would have). With `learn`, the policy learns from each
    logged decision's exposures after being asked about it (`evaluate`: each viewer's reward with their own bands),
    so a learner is judged as it would have grown on this data (it sees only the past of each decision); otherwise
    it stays in the state it was given. What the engine's learner also read in RAM and the log leaves out (what the
    people present had watched on earlier visits, `context.loggable`) a replayed learner never sees."""

    def __init__(self, policy: Any, *, learn: bool = True) -> None:
        self._policy = policy
        self._learn = learn
        self.name = str(policy.name)

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> Mapping[str, float]:
        from signage.decision.decider import HasProbabilities

        ids = [item.item_id for item in eligible]
        if isinstance(self._policy, HasProbabilities):
            probabilities = self._policy.probabilities(context, eligible)
            if isinstance(probabilities, Mapping):
                return {i: float(probabilities.get(i, 0.0)) for i in ids}
            return {i: float(p) for i, p in zip(ids, probabilities, strict=True)}
        decision = self._policy.select(context, eligible)
        if decision.propensity < 1.0:
            raise EvaluationError(f"policy {self.name} is stochastic without probabilities(); it cannot be evaluated")
        return {i: float(i == decision.item_id) for i in ids}

    def observe(self, context: Context, item_id: str, reward: float) -> None:
        if self._learn:
            self._policy.learn(context, item_id, reward)


def format_evaluation(evaluation: Evaluation) -> str:
    def line(label: str, e: Estimate) -> str:
        return f"  {label:<28} {e.value:9.3f}   [{e.low:.3f}, {e.high:.3f}]"

    return "\n".join(
        [
            f"Off-policy evaluation of {evaluation.policy!r} on {evaluation.decisions} logged decisions "
            "(reward per decision, 95% intervals)",
            line("logged (what was shown)", evaluation.logged_value),
            line("IPS", evaluation.ips),
            line("self-normalised IPS", evaluation.snips),
            line("doubly robust", evaluation.dr),
            f"  effective sample size        {evaluation.effective_sample_size:9.1f}",
            f"  decisions it would not make  {evaluation.unsupported:9d}",
        ]
    )


def target(name: str, *, items: Sequence[ContentItem], config: DecisionConfig | None = None) -> TargetPolicy:
    """The target policy called `name`: "random" (uniform over the eligible items) or any engine policy, replayed
    from its initial state (learners learn from the logged rewards as they go)."""
    if name == "random":
        return UniformTarget()
    from signage.decision.policies import build_policy

    return PolicyTarget(build_policy(name, items=items, config=config))


def items_in_logs(logs: Sequence[LoggedDecision]) -> tuple[ContentItem, ...]:
    """Bare items for every id the logs name, in order of first appearance (when the pool cannot be loaded)."""
    ids = dict.fromkeys(i for d in logs for i in d.eligible)
    return tuple(_placeholder(i) for i in ids)
