"""Every policy the engine can run, by name, and how to build one from the config.

- `round_robin`: the plain playlist (the control arm), in `signage.decision.policy`.
- `random`: uniform over the eligible items, propensity 1/k.
- `demographic`: a fixed table from the age band and gender present (what an operator would build by hand).
- `contextual`: the engine's online learner (`ContextualPolicy`): one shared model of attention over
  context × item features, forgetting by a constant step, softmax choice with exact propensities.
- `river_linear`: the same on a river regressor; slower, kept for comparison.
- `linucb`: disjoint LinUCB over plain context features (numpy), the anchor the learner is measured against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from signage.config.decision import DecisionConfig
from signage.decision.policies.contextual import ContextualPolicy
from signage.decision.policies.demographic import DEFAULT_TABLE, DemographicPolicy
from signage.decision.policies.linucb import LinUCBPolicy
from signage.decision.policies.river_linear import RiverLinearPolicy
from signage.decision.policies.softmax import SoftmaxPolicy, softmax_mixture
from signage.decision.policies.uniform import RandomPolicy
from signage.decision.policy import Policy, RoundRobinPolicy
from signage.decision.reward import reward_scale
from signage.types import ContentItem

POLICY_NAMES: tuple[str, ...] = ("round_robin", "random", "demographic", "contextual", "river_linear", "linucb")


def build_policy(
    name: str,
    *,
    items: Sequence[ContentItem],
    config: DecisionConfig | None = None,
    seed: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Policy:
    """The policy called `name` for a pool, with the learner's settings from `config` (defaults if None).

    `seed` overrides `config.learner_seed` (simulations run each seed of the store with its own policy seed).
    `settings` are further keyword arguments of `ContextualPolicy` (benchmark variants of the learner, e.g.
    `steady_settle_to`); only the contextual learner takes them."""
    config = config or DecisionConfig()
    if settings and name != "contextual":
        raise ValueError(f"only the contextual learner takes settings, not {name!r}")
    seed = config.learner_seed if seed is None else seed
    if name == "round_robin":
        return RoundRobinPolicy(order=[item.item_id for item in items])
    if name == "random":
        return RandomPolicy(seed=seed)
    if name == "demographic":
        return DemographicPolicy()
    if name == "linucb":
        return LinUCBPolicy(reward_scale_s=reward_scale(config.reward, config.learner_reward_scale_s), seed=seed)
    if name in ("contextual", "river_linear"):
        arguments: dict[str, Any] = {
            "learning_rate": config.learner_learning_rate,
            "temperature": config.learner_temperature,
            "epsilon": config.learner_epsilon,
            "reward_scale_s": reward_scale(config.reward, config.learner_reward_scale_s),
            "seed": seed,
        }
        if name == "river_linear":
            return RiverLinearPolicy(**arguments)
        # Only this one has an empty-aisle context; a benchmark variant's settings go over the config's.
        arguments["empty_temperature"] = config.learner_empty_temperature
        return ContextualPolicy(**(arguments | dict(settings or {})))
    raise ValueError(f"unknown policy {name!r}; expected one of {', '.join(POLICY_NAMES)}")


__all__ = [
    "DEFAULT_TABLE",
    "POLICY_NAMES",
    "ContextualPolicy",
    "DemographicPolicy",
    "LinUCBPolicy",
    "RandomPolicy",
    "RiverLinearPolicy",
    "RoundRobinPolicy",
    "SoftmaxPolicy",
    "build_policy",
    "softmax_mixture",
]
