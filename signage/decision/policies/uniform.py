"""Uniformly random choice: the simplest stochastic baseline, and the logging policy off-policy evaluation likes."""

from __future__ import annotations

import random
from collections.abc import Sequence

from signage.types import ContentItem, Context, Decision


class RandomPolicy:
    """Each eligible item with probability 1/k. It does not learn."""

    name = "random"
    version = "1"

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        if not eligible:
            raise ValueError("select() needs at least one eligible item")
        k = len(eligible)
        chosen = eligible[self._rng.randrange(k)]
        return Decision(item_id=chosen.item_id, propensity=1.0 / k, reason=f"uniform over {k} eligible")

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        """1/k for each of the k eligible items (what `select` draws from)."""
        if not eligible:
            raise ValueError("probabilities() needs at least one eligible item")
        return [1.0 / len(eligible)] * len(eligible)

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """Random choice does not learn."""
