"""The same learner's shape on a river model: softmax over a river regressor of crossed context × item features.

Kept for measurement: it learns the same interactions as `ContextualPolicy` through river's dict-based
`linear_model.LinearRegression` (plain SGD, constant step, so it forgets too), but scoring k items means k
`predict_one` calls over dicts of |x| × |z| crossed features, which is several times slower than one numpy product
(see `benchmarks/policy.py`). Crossed values are divided by sqrt(|x|² |z|²) so one step size fits every context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from river import linear_model, optim

from signage.decision.policies.features import cached_item_features, context_features, item_context_features
from signage.decision.policies.softmax import SoftmaxPolicy
from signage.types import ContentItem, Context


def crossed(named_context: dict[str, float], named_item: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in named_context.values()) * sum(v * v for v in named_item.values()))
    return {f"{c}*{i}": cv * iv / norm for c, cv in named_context.items() for i, iv in named_item.items()}


class RiverLinearPolicy(SoftmaxPolicy):
    """river LinearRegression over context × item features, softmax choice with exact propensities."""

    name = "river_linear"
    version = "2"

    def __init__(
        self,
        *,
        learning_rate: float = 0.3,
        temperature: float = 0.15,
        epsilon: float = 0.05,
        reward_scale_s: float = 10.0,
        seed: int = 0,
    ) -> None:
        super().__init__(temperature=temperature, epsilon=epsilon, reward_scale_s=reward_scale_s, seed=seed)
        self.learning_rate = learning_rate
        # The intercept is the crossed bias*bias feature already; river's own intercept stays at 0.
        # river's models are untyped; Any keeps mypy --strict quiet about them.
        self._model: Any = linear_model.LinearRegression(optimizer=optim.SGD(learning_rate), intercept_lr=0.0, l2=0.0)
        self._items: dict[str, dict[str, float]] = {}

    def _item_named(self, item_id: str, context: Context) -> dict[str, float]:
        fixed = self._items.get(item_id) or {"bias": 1.0, f"id:{item_id}": 1.0}
        extra = item_context_features(context, item_id)
        return fixed | extra if extra else fixed

    def know(self, items: Sequence[ContentItem]) -> None:
        """The pool's items, as the contextual learner's `know`: features for a reward on an item not yet scored,
        and items edited in the pool seen as they are now."""
        sources: dict[str, ContentItem] = self.__dict__.setdefault("_sources", {})
        for item in items:
            cached_item_features(self._items, sources, item)

    def _scores(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        named_context = context_features(context)
        self.know(eligible)
        return [
            float(self._model.predict_one(crossed(named_context, self._item_named(item.item_id, context))))
            for item in eligible
        ]

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        x = crossed(context_features(context), self._item_named(item_id, context))
        self._model.learn_one(x, self._target(reward))
