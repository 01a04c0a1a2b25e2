"""The shared shape of the learning policies: scores in, a softmax choice with an exact propensity out.

Like river's bandit policies, the public `select` handles what every scoring policy shares (checking the eligible
set, exploration, the draw, the propensity, the reason) and a subclass implements one private method, `_scores`,
the predicted reward of each eligible item. Unlike river, every choice carries the probability with which it was
made, exactly: p(item) = (1 - epsilon) * softmax(score / temperature) + epsilon / k. That is what off-policy
evaluation (inverse propensity scoring) needs, and the epsilon floor keeps every eligible item's probability at
least epsilon / k so that any other policy can be evaluated on the logs.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence

from signage.types import ContentItem, Context, Decision


def softmax_mixture(scores: Sequence[float], *, temperature: float, epsilon: float) -> list[float]:
    """(1 - epsilon) * softmax(scores / temperature) + epsilon / k; sums to 1, every entry > 0."""
    k = len(scores)
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = math.fsum(weights)
    probabilities = [(1.0 - epsilon) * w / total + epsilon / k for w in weights]
    # exp() of a very negative number is 0.0; a policy must never log a zero propensity for an item it may pick.
    smallest = min(probabilities)
    if smallest <= 0.0:
        floor = 1e-12
        probabilities = [max(p, floor) for p in probabilities]
        norm = math.fsum(probabilities)
        probabilities = [p / norm for p in probabilities]
    return probabilities


class SoftmaxPolicy(ABC):
    """Base of the scoring policies; subclasses implement `_scores` and `learn`."""

    name = "softmax"
    version = "1"
    # Attributes set from config, not learned: a restored snapshot takes them from the fresh policy.
    SETTINGS: tuple[str, ...] = ("temperature", "epsilon")

    def __init__(self, *, temperature: float, epsilon: float, reward_scale_s: float, seed: int) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        if not reward_scale_s > 0:
            raise ValueError(f"reward_scale_s must be > 0, got {reward_scale_s}")
        self.temperature = temperature
        self.epsilon = epsilon
        self.reward_scale_s = reward_scale_s
        self.seed = seed
        self._rng = random.Random(seed)

    @abstractmethod
    def _scores(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        """Predicted reward of each eligible item, in units of reward_scale_s."""

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        """The probability of choosing each eligible item now (what `select` draws from); for evaluation."""
        if not eligible:
            raise ValueError("probabilities() needs at least one eligible item")
        return softmax_mixture(
            self._scores(context, eligible), temperature=self._temperature(context), epsilon=self.epsilon
        )

    def _temperature(self, context: Context) -> float:
        """The softmax temperature for this context (one for all, unless a subclass says otherwise)."""
        return self.temperature

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        if not eligible:
            raise ValueError("select() needs at least one eligible item")
        scores = self._scores(context, eligible)
        probabilities = softmax_mixture(scores, temperature=self._temperature(context), epsilon=self.epsilon)
        u = self._rng.random()
        chosen = len(probabilities) - 1
        cumulative = 0.0
        for index, p in enumerate(probabilities):
            cumulative += p
            if u < cumulative:
                chosen = index
                break
        best = max(scores)
        scale = self.reward_scale_s
        expected = scores[chosen] * scale
        if scores[chosen] == best:
            reason = f"best predicted attention {expected:.1f} s"
        else:
            reason = f"exploring: predicted {expected:.1f} s, best {best * scale:.1f} s"
        return Decision(item_id=eligible[chosen].item_id, propensity=probabilities[chosen], reason=reason)

    @abstractmethod
    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """Take the reward of one exposure (attention seconds)."""

    def _target(self, reward: float) -> float:
        """The reward in model units, capped so one long stare does not swamp the model."""
        value = reward / self.reward_scale_s
        if math.isnan(value):  # not a measurement: learning it would make every later score NaN
            return 0.0
        return 0.0 if value < 0.0 else 5.0 if value > 5.0 else value
