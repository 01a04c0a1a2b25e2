"""The engine's contextual learner: one shared bilinear model of attention over context × item features.

score(context, item) = x(context)ᵀ · W · z(item), where x and z are the feature vectors of `features.py` (both with
a bias), so W holds a global mean, context main effects, item main effects (per id, category, tags, advertiser,
motion) and every context × item interaction (age band × category, daypart × tag, group × motion, ...). Because
items share category, tag, advertiser and motion weights, a new item starts from what similar items earned (cold
start), not from zero; its own id weight then learns what its features do not say.

What the demographic anchors ignore reaches it the same way: group composition (`family`, `mixed_gender`,
`together_share`, joint age × gender shares) are context features, so they are crossed with every item feature;
what the people present already watched on earlier visits arrives per item (`ctx:seen`, `ctx:seen_again`, shares
of those present), one weight each for all items, crossed with the context too (novelty wear is learned, not set).
Version 2: these features (a version-1 snapshot is refused on load).

Learning is a normalised least-mean-squares step per exposure: W += lr · (y − ŷ) · x zᵀ / (|x|² |z|²). It moves the
prediction for that context and item a fixed share `lr` of the way to the reward, whatever the feature scales, and
because the step never shrinks, old rewards fade geometrically: the model follows tastes that drift and novelty
that wears off (forgetting), at the price of some noise. Choosing is a softmax over the scores with an epsilon floor,
so every decision carries its exact propensity (see `softmax.py`).

Cost: select is one (|x| × |z|) matrix-vector product and one (k × |z|) product; learn is one outer product of two
short vectors. Measured in `benchmarks/policy.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from signage.decision.policies.features import (
    Vocabulary,
    context_features,
    item_context_features,
    item_context_table,
    item_features,
)
from signage.decision.policies.softmax import SoftmaxPolicy
from signage.types import ContentItem, Context

Matrix = npt.NDArray[np.float64]


class ContextualPolicy(SoftmaxPolicy):
    """Online bilinear regression of attention on context × item features, with a softmax choice."""

    name = "contextual"
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
        if not 0.0 < learning_rate <= 1.5:
            raise ValueError(f"learning_rate must be in (0, 1.5], got {learning_rate}")
        self.learning_rate = learning_rate
        self._context_vocabulary = Vocabulary()
        self._item_vocabulary = Vocabulary()
        self._weights: Matrix = np.zeros((0, 0))
        self._items: dict[str, dict[str, float]] = {}  # item id → its fixed features, for learn()
        self.updates = 0

    # -- vectors -------------------------------------------------------------------------------------------------

    def _grow(self) -> None:
        rows, columns = len(self._context_vocabulary), len(self._item_vocabulary)
        if self._weights.shape != (rows, columns):
            grown = np.zeros((rows, columns))
            old_rows, old_columns = self._weights.shape
            grown[:old_rows, :old_columns] = self._weights
            self._weights = grown

    def _context_vector(self, named: dict[str, float]) -> Matrix:
        index = self._context_vocabulary.index
        vector = np.zeros(len(index))
        for name, value in named.items():
            vector[index[name]] = value
        return vector

    def _item_named(self, item: ContentItem, extras: dict[str, dict[str, float]]) -> dict[str, float]:
        fixed = self._items.get(item.item_id)
        if fixed is None:
            fixed = item_features(item)
            self._items[item.item_id] = fixed
        extra = extras.get(item.item_id)
        return fixed | extra if extra else fixed

    # -- the policy ----------------------------------------------------------------------------------------------

    def _scores(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        named_context = context_features(context)
        extras = item_context_table(context)
        named_items = [self._item_named(item, extras) for item in eligible]
        grew = self._context_vocabulary.add(named_context)
        for named in named_items:
            grew = self._item_vocabulary.add(named) or grew
        if grew:
            self._grow()
        x = self._context_vector(named_context)
        index = self._item_vocabulary.index
        z = np.zeros((len(eligible), len(index)))
        for row, named in enumerate(named_items):
            for name, value in named.items():
                z[row, index[name]] = value
        scores: Matrix = z @ (x @ self._weights)
        return [float(s) for s in scores]

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        named_context = context_features(context)
        fixed = self._items.get(item_id) or {"bias": 1.0, f"id:{item_id}": 1.0}
        extra = item_context_features(context, item_id)
        named_item = fixed | extra if extra else fixed
        grew = self._context_vocabulary.add(named_context)
        grew = self._item_vocabulary.add(named_item) or grew
        if grew:
            self._grow()
        x = self._context_vector(named_context)
        index = self._item_vocabulary.index
        columns = np.fromiter((index[name] for name in named_item), dtype=np.int64, count=len(named_item))
        values = np.fromiter(named_item.values(), dtype=np.float64, count=len(named_item))
        block = self._weights[:, columns]
        predicted = float(x @ block @ values)
        error = self._target(reward) - predicted
        norm = float(x @ x) * float(values @ values)
        self._weights[:, columns] = block + (self.learning_rate * error / norm) * np.outer(x, values)
        self.updates += 1
