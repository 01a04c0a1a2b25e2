"""The engine's contextual learner: one shared bilinear model of attention over context × item features.

score(context, item) = x(context)ᵀ · W · z(item), where x and z are the feature vectors of `features.py` (both with
a bias), so W holds a global mean, context main effects, item main effects (per id, category, tags, advertiser,
motion) and every context × item interaction (age band × category, daypart × tag, group × motion, ...). Items share
category, tag, advertiser and motion weights, so a new item starts from what similar items earned (cold start), and
its own id weight then learns what its features do not say.

What the demographic anchors ignore reaches it the same way, crossed with everything else:
- who is present together: `family`, `mixed_gender`, `together_share`, joint age × gender shares;
- what the people present already watched: `ctx:seen`, `ctx:seen_again`, `ctx:held` (shares of those present,
  given to that item only; one weight each for all items), so novelty wear is learned, not set; with
  `wear_crossed` (off by default) also per item, category and tag (`seen×<name>`);
- what they watched of related items: `mem:category_seen` / `mem:tag_seen` where those present watched another
  item of the same category or tag, `mem:category_held` / `mem:tag_held` where it held them;
- whose reward it is: each reward is learned with its own viewer's bands and what that viewer alone had watched
  (`signage.decision.context.for_viewer`), so a family's child and parent are told apart. The model is linear in
  these features, so scoring a group with its shares is the mean of its members' scores.

An empty aisle is a context of its own (`empty_apart`): a decision made with nobody in front of the screen has the
single context feature `nobody`, so its rewards (mostly zero; sometimes a shopper who arrived and noticed) train one
row of W and never move the rows that rank items for the people who are there. It chooses with its own temperature
(`empty_temperature`, config `learner_empty_temperature`): near-greedy keeps to the item that draws arrivals best,
higher rotates the pool at a measured cost in attention.

Learning is a normalised least-mean-squares step per exposure: W += lr · (y − ŷ) · x zᵀ / (|x|² |z|²). It moves the
prediction for that context and item a share of the way to the reward, whatever the feature scales. Each item's step
settles with its own experience, lr · k / (k + n) after n updates on it with people present (k: `settle_updates`
shared out over the pool), never below `settle_to` · lr. Because the step never falls to zero, old rewards fade
geometrically: the model follows tastes that drift and novelty that wears off (forgetting).

Choosing is a softmax over the scores (a near-greedy temperature) with an epsilon floor, so every decision carries
its exact propensity (`softmax.py`). Once `settle_updates` rewards with people present were learned, it chooses with
a running average of the weights (Polyak-Ruppert, `average_rate`): the live weights jitter with each exposure, so a
close second would keep winning now and then.

Two memories of the same model learn every reward: a quick one (step floor `settle_to` 0.3 · lr, average over about
the last 500 updates) and a steady one (`steady_settle_to` 0.1 · lr, about 2,000). Each is judged prequentially: the
squared error of what it predicted for a reward before learning it, averaged over about the last 10,000 rewards with
people present (`error_rate`). Once the step has settled, whichever predicted better chooses (the quick one on a
tie): after a change of taste the quick one predicts better first and takes the choice back.

Every setting and feature was chosen by measurement on the virtual store (`benchmarks/policy.py`, development seeds
11 and up; the reporting seeds 7-9 only report). The figures, and what was tried and not taken (and why), are in
docs/learner.md: read it before changing the learner.

Cost: select is one (|x| × |z|) matrix-vector product and one (k × |z|) product; learn is, per memory, one outer
product of two short vectors, one short prediction and one pass over W for the average. Measured in
`benchmarks/policy.py`. Still open: a lead over LinUCB that lasts (with 12 items and on `30p` the two are level over
the last days of a month) and a wider one with 30 items and wear-off (+4.8 points over 30 days, the target is +10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from signage.decision.policies.features import (
    Vocabulary,
    cached_item_features,
    context_features,
    item_context_table,
)
from signage.decision.policies.softmax import SoftmaxPolicy
from signage.types import ContentItem, Context

Matrix = npt.NDArray[np.float64]
_MEMORY_KINDS = ("seen", "held")  # what the people present watched / were held by, from `WearMemory`
_MEMORY_PREFIXES = ("category:", "tag:")
_NO_NAMES: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def _no_weights() -> Matrix:
    return np.zeros((0, 0))


@dataclass
class _Memory:
    """One way of remembering rewards: the live weights each update moves (their step settles to `settle_to` · lr),
    their running average (about the last 1 / `average_rate` updates with people present) and how well the weights
    it chooses with predicted each reward before learning it (running mean of squared errors, people present)."""

    settle_to: float
    average_rate: float
    weights: Matrix = field(default_factory=_no_weights)
    average: Matrix = field(default_factory=_no_weights)
    squared_error: float = 0.0


class ContextualPolicy(SoftmaxPolicy):
    """Online bilinear regression of attention on context × item features, with a softmax choice."""

    name = "contextual"
    wear_crossed = False  # a default for snapshots saved before the setting existed (the same model)
    version = "8"
    SETTINGS = (*SoftmaxPolicy.SETTINGS, "empty_temperature", "learning_rate")

    def __init__(
        self,
        *,
        learning_rate: float = 0.1,
        temperature: float = 0.01,
        epsilon: float = 0.05,
        reward_scale_s: float = 10.0,
        seed: int = 0,
        empty_apart: bool = True,
        settle_to: float = 0.3,
        settle_updates: float = 3000.0,
        empty_temperature: float | None = None,
        average_rate: float = 0.002,
        steady_settle_to: float | None = 0.1,
        steady_average_rate: float = 0.0005,
        error_rate: float = 1e-4,
        wear_crossed: bool = False,
    ) -> None:
        super().__init__(temperature=temperature, epsilon=epsilon, reward_scale_s=reward_scale_s, seed=seed)
        if not 0.0 < learning_rate <= 1.5:
            raise ValueError(f"learning_rate must be in (0, 1.5], got {learning_rate}")
        self.learning_rate = learning_rate
        self.empty_apart = empty_apart
        if not 0.0 < settle_to <= 1.0:
            raise ValueError(f"settle_to must be in (0, 1], got {settle_to}")
        if not settle_updates > 0:
            raise ValueError(f"settle_updates must be > 0, got {settle_updates}")
        self.settle_updates = settle_updates
        if empty_temperature is not None and not empty_temperature > 0:
            raise ValueError(f"empty_temperature must be > 0, got {empty_temperature}")
        self.empty_temperature = temperature if empty_temperature is None else empty_temperature
        for rate_name, rate in (("average_rate", average_rate), ("steady_average_rate", steady_average_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{rate_name} must be in [0, 1], got {rate}")
        if steady_settle_to is not None and not 0.0 < steady_settle_to <= 1.0:
            raise ValueError(f"steady_settle_to must be in (0, 1] or None, got {steady_settle_to}")
        if not 0.0 < error_rate <= 1.0:
            raise ValueError(f"error_rate must be in (0, 1], got {error_rate}")
        self.error_rate = error_rate
        self.wear_crossed = bool(wear_crossed)
        self.busy_updates = 0  # updates learned with somebody in front of the screen
        self.item_updates: dict[str, int] = {}  # the same, per item: each item's step settles with its own
        self._context_vocabulary = Vocabulary()
        self._item_vocabulary = Vocabulary()
        # The quick memory (live weights and their average) learns fast and follows drift; the steady one, with a
        # lower step floor and a longer average, ends more precise. Whichever predicts better chooses.
        self._quick = _Memory(settle_to=settle_to, average_rate=average_rate)
        steady = () if steady_settle_to is None else (_Memory(steady_settle_to, steady_average_rate),)
        self._memories: tuple[_Memory, ...] = (self._quick, *steady)
        self._items: dict[str, dict[str, float]] = {}  # item id → its fixed features, for learn()
        self._memory: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # item id → (categories, tags)
        self.updates = 0

    # -- vectors -------------------------------------------------------------------------------------------------

    def _grow(self) -> None:
        shape = (len(self._context_vocabulary), len(self._item_vocabulary))
        for memory in self._memories:
            memory.weights = _grown(memory.weights, shape)
            memory.average = _grown(memory.average, shape)

    def _context_vector(self, named: dict[str, float]) -> Matrix:
        index = self._context_vocabulary.index
        vector = np.zeros(len(index))
        for name, value in named.items():
            vector[index[name]] = value
        return vector

    def _item_named(self, item: ContentItem, extras: dict[str, dict[str, float]]) -> dict[str, float]:
        fixed = self._fixed(item)
        extra = extras.get(item.item_id)
        return self._joined(fixed, extra)

    def _fixed(self, item: ContentItem) -> dict[str, float]:
        # `_sources` is set here, not in __init__, so snapshots saved before it existed still load.
        sources: dict[str, ContentItem] = self.__dict__.setdefault("_sources", {})
        fixed, made = cached_item_features(self._items, sources, item)
        if made:
            self._memory.pop(item.item_id, None)  # its category and tags may have changed
        return fixed

    def know(self, items: Sequence[ContentItem]) -> None:
        """The pool's items (the rotation and the detail pages), so that a reward on an item this policy has not
        scored yet is learned with its features (cold start), and an item edited in the pool is seen as it is now.
        The engine calls this at start and whenever the pool is reloaded. The pool given last is what the step's
        `settle_updates` is shared out over: an item retired from the pool no longer slows the others' settling."""
        for item in items:
            self._fixed(item)
        self.__dict__["_pool_size"] = len({item.item_id for item in items})

    def _joined(self, fixed: dict[str, float], extra: dict[str, float] | None) -> dict[str, float]:
        """An item's fixed features with its per-item context; with `wear_crossed`, also each fixed feature (bias
        aside) times the share of those present who already watched it (`seen×<name>`): wear takes a share of the
        appeal, so what an item loses on a returning viewer grows with what it would have earned."""
        if not extra:
            return fixed
        joined = fixed | extra
        seen = extra.get("ctx:seen", 0.0)
        if self.wear_crossed and seen:
            joined.update({f"seen×{name}": seen * value for name, value in fixed.items() if name != "bias"})
        return joined

    def _with_memory(self, extras: dict[str, dict[str, float]], only: str | None = None) -> dict[str, dict[str, float]]:
        """Add `mem:category_<kind>` / `mem:tag_<kind>` to every known item (or the item `only`) whose category or a
        tag the people present watched (`seen`) or were held by (`held`) on another item; `extras` is the per-item
        context table (`ctx:seen`, `ctx:held` shares)."""
        table = extras
        for kind in _MEMORY_KINDS:
            key = f"ctx:{kind}"
            shares = {item_id: named[key] for item_id, named in extras.items() if named.get(key)}
            if not shares:
                continue
            by_category: dict[str, float] = {}  # category name → summed shares of those present who met it
            by_tag: dict[str, float] = {}
            for item_id, share in shares.items():
                categories, tags = self._memory_names(item_id)
                for name in categories:
                    by_category[name] = by_category.get(name, 0.0) + share
                for name in tags:
                    by_tag[name] = by_tag.get(name, 0.0) + share
            if not by_category and not by_tag:
                continue
            if table is extras:
                table = dict(extras)
            for item_id in self._items if only is None else (only,):
                categories, tags = self._memory_names(item_id)
                if by_category.keys().isdisjoint(categories) and by_tag.keys().isdisjoint(tags):
                    continue  # most of the pool: nothing the people present met
                own = shares.get(item_id, 0.0)  # met on this very item: wear, not memory of another
                category, tag = _met_elsewhere(by_category, categories, own), _met_elsewhere(by_tag, tags, own)
                if category or tag:
                    named = dict(table.get(item_id, {}))
                    if category:
                        named[f"mem:category_{kind}"] = min(category, 1.0)
                    if tag:
                        named[f"mem:tag_{kind}"] = min(tag, 1.0)
                    table[item_id] = named
        return table

    def _memory_names(self, item_id: str) -> tuple[frozenset[str], frozenset[str]]:
        """The category and tag feature names of a known item (none for an unknown one), worked out once."""
        names = self._memory.get(item_id)
        if names is None:
            fixed = self._items.get(item_id)
            if fixed is None:
                return _NO_NAMES
            categories, tags = (frozenset(name for name in fixed if name.startswith(p)) for p in _MEMORY_PREFIXES)
            names = self._memory[item_id] = (categories, tags)
        return names

    def item_named(self, context: Context, item_id: str) -> dict[str, float]:
        """The item-side features of `item_id` in this context, as `learn` uses them (fixed + per-item context)."""
        fixed = self._items.get(item_id) or {"bias": 1.0, f"id:{item_id}": 1.0}
        extra = self._with_memory(item_context_table(context), only=item_id).get(item_id)
        return self._joined(fixed, extra)

    # -- the policy ----------------------------------------------------------------------------------------------

    def context_named(self, context: Context) -> dict[str, float]:
        """The context-side features as the model uses them. With `empty_apart`, a decision made with nobody in
        front of the screen has only the `nobody` feature: what draws arrivals to an empty aisle is learned on its
        own row and never drags the weights that rank items for people who are there."""
        if self.empty_apart and not context.n_present:
            return {"nobody": 1.0}
        return context_features(context)

    def _scores(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        named_context = self.context_named(context)
        extras = self._with_memory(item_context_table(context))
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
        scores: Matrix = z @ (x @ self._choosing_weights(context))
        return [float(s) for s in scores]

    def _choosing_weights(self, context: Context) -> Matrix:
        """For people present, the weights of the memory that predicts better (`choosing_memory`); for an empty
        aisle the quick memory's live weights (its own row, learned with the full step)."""
        if self.empty_apart and not context.n_present:
            return self._quick.weights
        return self._weights_of(self.choosing_memory())

    def _weights_of(self, memory: _Memory) -> Matrix:
        """What `memory` chooses with: its running average once `settle_updates` updates with people were learned,
        its live weights before that or when it does not average."""
        if not memory.average_rate or self.busy_updates < self.settle_updates:
            return memory.weights
        return memory.average

    def choosing_memory(self) -> _Memory:
        """The quick memory until `settle_updates` updates with people were learned, then whichever memory's
        weights predicted the rewards better (the quick one on a tie)."""
        if self.busy_updates < self.settle_updates:
            return self._quick
        return min(self._memories, key=lambda memory: memory.squared_error)

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        named_context = self.context_named(context)
        named_item = self.item_named(context, item_id)
        grew = self._context_vocabulary.add(named_context)
        grew = self._item_vocabulary.add(named_item) or grew
        if grew:
            self._grow()
        x = self._context_vector(named_context)
        index = self._item_vocabulary.index
        columns = np.fromiter((index[name] for name in named_item), dtype=np.int64, count=len(named_item))
        values = np.fromiter(named_item.values(), dtype=np.float64, count=len(named_item))
        target = self._target(reward)
        norm = float(x @ x) * float(values @ values)
        busy = bool(context.n_present)
        # Prequential: each memory is judged on a reward before it learns it, over about the last 1 / error_rate.
        error_rate = max(self.error_rate, 1.0 / (self.busy_updates + 1))
        # Only the quick memory's empty-aisle row is ever read (`_choosing_weights`): the others skip that update.
        for memory in self._memories if busy else (self._quick,):
            block = memory.weights[:, columns]
            live = float(x @ block @ values)
            if busy and len(self._memories) > 1:
                choosing = self._weights_of(memory)
                predicted = live if choosing is memory.weights else float(x @ choosing[:, columns] @ values)
                memory.squared_error += error_rate * ((target - predicted) ** 2 - memory.squared_error)
            error = target - live
            step = self.step_size(context, item_id, memory)
            memory.weights[:, columns] = block + (step * error / norm) * np.outer(x, values)
        self.updates += 1
        if busy:
            self.busy_updates += 1
            self.item_updates[item_id] = self.item_updates.get(item_id, 0) + 1
            for memory in self._memories:
                if memory.average_rate:
                    # About the last quarter of the updates at first, then a fixed window of ~1 / average_rate.
                    rate = max(memory.average_rate, 4.0 / (self.busy_updates + 4))
                    memory.average += rate * (memory.weights - memory.average)

    def _temperature(self, context: Context) -> float:
        """An empty aisle gets its own temperature (`empty_temperature`): near-greedy keeps to the item that draws
        arrivals best, higher rotates the pool while nobody is there (see the module docstring for the price)."""
        return self.empty_temperature if self.empty_apart and not context.n_present else self.temperature

    def step_size(self, context: Context, item_id: str, memory: _Memory | None = None) -> float:
        """The step of the next update on `item_id` (of the quick memory unless `memory` says): `learning_rate` at
        first, falling as lr · k / (k + n) with n updates learned on that item with people present (k:
        `settle_updates` shared out over the items of the pool) to the memory's `settle_to` · lr, where it stays
        (forgetting). An empty aisle's row keeps the full step."""
        floor = (memory or self._quick).settle_to
        if floor >= 1.0 or (self.empty_apart and not context.n_present):
            return self.learning_rate
        # The pool as last told (`know`); a snapshot saved before `know` existed, or a policy never told, counts
        # the items it has scored.
        pool_size = self.__dict__.get("_pool_size") or len(self._items)
        k = self.settle_updates / max(1, pool_size)
        return self.learning_rate * max(floor, k / (k + self.item_updates.get(item_id, 0)))


def _grown(matrix: Matrix, shape: tuple[int, int]) -> Matrix:
    """`matrix` padded with zeros to `shape` (a new feature starts at weight 0); itself if already that shape."""
    if matrix.shape == shape:
        return matrix
    grown = np.zeros(shape)
    rows, columns = matrix.shape
    grown[:rows, :columns] = matrix
    return grown


def _met_elsewhere(totals: dict[str, float], names: frozenset[str], own: float) -> float:
    """The largest share of the people present who met one of `names` on another item than this one (`own`: their
    share on this one, counted in `totals` too); 0 when none did. Plain loops: called for every item per decision."""
    most = 0.0
    for name in names:
        total = totals.get(name)
        if total is not None and total - own > most:
            most = total - own
    return most if most > 1e-9 else 0.0
