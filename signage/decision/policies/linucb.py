"""LinUCB with disjoint linear models (Li et al. 2010) in numpy: the published anchor the engine's learner is
measured against, not a policy the engine runs by default.

Each item has its own ridge regression of reward on a fixed vector of plain context features (age, gender and mood
shares, group size, crowd, daypart, weekend, returning viewers present, a bias) and the item with the highest upper
confidence bound θᵀx + α √(xᵀ A⁻¹ x) is chosen (ties broken by a seeded draw). It ignores what the engine's learner
uses: item features (no cold start), feature crosses beyond one model per item, group composition and what the
people present already watched. River's `LinUCBDisjoint` is the same algorithm; this one keeps A⁻¹ up to date by
Sherman-Morrison (O(d²) per update) and scores every eligible item in one batched product, so it keeps up with the
engine. It is deterministic given its history: the propensity of its choice is 1 (ties: 1/ties).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from signage.decision.policies.features import daypart
from signage.types import AgeBand, ContentItem, Context, Decision, Gender, Mood

Vector = npt.NDArray[np.float64]

CONTEXT_NAMES: tuple[str, ...] = (
    *(f"age_{band}" for band in AgeBand),
    *(f"gender_{gender}" for gender in Gender),
    *(f"mood_{mood}" for mood in Mood),
)
DAYPARTS = ("morning", "lunch", "afternoon", "evening")


def plain_context(context: Context) -> Vector:
    """The anchor's context vector: bias, demographic shares, group size, crowd, daypart, weekend, returning."""
    features = context.features
    values = [1.0, *(float(features.get(name, 0.0)) for name in CONTEXT_NAMES)]
    values.append(min(float(features.get("group_max", 0.0)), 4.0) / 4.0)
    values.append(min(context.n_present, 5) / 5.0)
    part = daypart(context.local_hour)
    values.extend(1.0 if part == name else 0.0 for name in DAYPARTS)
    values.append(1.0 if context.weekday >= 5 else 0.0)
    values.append(1.0 if context.returning_present else 0.0)
    return np.array(values)


DIMENSION = 1 + len(CONTEXT_NAMES) + 2 + len(DAYPARTS) + 2  # the length of plain_context's vector


class LinUCBPolicy:
    """Disjoint LinUCB over plain context features; one ridge model per item."""

    name = "linucb"
    version = "1"

    def __init__(self, *, alpha: float = 1.0, ridge: float = 1.0, reward_scale_s: float = 10.0, seed: int = 0) -> None:
        if alpha < 0 or ridge <= 0 or reward_scale_s <= 0:
            raise ValueError("LinUCBPolicy: need alpha >= 0, ridge > 0, reward_scale_s > 0")
        self.alpha = alpha
        self.ridge = ridge
        self.reward_scale_s = reward_scale_s
        self._rng = random.Random(seed)
        self._index: dict[str, int] = {}
        self._a_inv = np.zeros((0, DIMENSION, DIMENSION))  # per item: A⁻¹
        self._b = np.zeros((0, DIMENSION))  # per item: Σ r x
        self._theta = np.zeros((0, DIMENSION))

    def _rows(self, item_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        new = [item_id for item_id in item_ids if item_id not in self._index]
        if new:
            for item_id in new:
                self._index[item_id] = len(self._index)
            eye = np.broadcast_to(np.eye(DIMENSION) / self.ridge, (len(new), DIMENSION, DIMENSION))
            self._a_inv = np.concatenate([self._a_inv, eye])
            self._b = np.concatenate([self._b, np.zeros((len(new), DIMENSION))])
            self._theta = np.concatenate([self._theta, np.zeros((len(new), DIMENSION))])
        return np.fromiter((self._index[i] for i in item_ids), dtype=np.int64, count=len(item_ids))

    def _bounds(self, context: Context, eligible: Sequence[ContentItem]) -> Vector:
        x = plain_context(context)
        rows = self._rows([item.item_id for item in eligible])
        mean = self._theta[rows] @ x
        spread = np.einsum("i,kij,j->k", x, self._a_inv[rows], x)
        bounds: Vector = mean + self.alpha * np.sqrt(np.maximum(spread, 0.0))
        return bounds

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        bounds = self._bounds(context, eligible)
        best = np.flatnonzero(bounds >= bounds.max() - 1e-12)
        p = [0.0] * len(eligible)
        for index in best:
            p[int(index)] = 1.0 / len(best)
        return p

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        if not eligible:
            raise ValueError("select() needs at least one eligible item")
        bounds = self._bounds(context, eligible)
        best = np.flatnonzero(bounds >= bounds.max() - 1e-12)
        chosen = int(best[self._rng.randrange(len(best))])
        return Decision(
            item_id=eligible[chosen].item_id,
            propensity=1.0 / len(best),
            reason=f"LinUCB bound {bounds[chosen] * self.reward_scale_s:.1f} s",
        )

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        x = plain_context(context)
        row = int(self._rows([item_id])[0])
        a_inv = self._a_inv[row]
        ax = a_inv @ x
        self._a_inv[row] = a_inv - np.outer(ax, ax) / (1.0 + float(x @ ax))
        target = reward / self.reward_scale_s
        self._b[row] += (0.0 if math.isnan(target) else min(max(target, 0.0), 5.0)) * x
        self._theta[row] = self._a_inv[row] @ self._b[row]
