"""The decision step: context, eligible set (rules), arm, the policy's choice, and the fallback.

Each decision:
1. builds the context from the audience snapshot (store-local time);
2. filters the pool through the operator rules (`signage.decision.rules`), keeping why each item was excluded;
3. draws the arm: with probability `control_share` the plain playlist decides (arm "control"), otherwise the
   learner (arm "learner"), which with probability `exploration_floor` picks uniformly among the eligible items
   and otherwise asks the policy;
4. when nothing is eligible, shows the configured fallback item: never a black screen.

The logged propensity is the true probability of the chosen item given the context and the eligible set, over
all of that mixing: p(x) = c * [playlist's next == x] + (1 - c) * (e / n + (1 - e) * q(x)), with q the policy's
probability of x. When the policy does not pick x itself, q(x) comes from its `probabilities(context, eligible)`
if it has one; a policy without it must be deterministic (propensity 1), and is then asked on a copy of itself.
When the policy *is* the plain playlist, every decision is a control decision and no mixing applies.

The Decider remembers what the rules need from calls the engine makes: `played(...)` when an item leaves the
screen (measured seconds, for shares) and `watched(...)` when an exposure closes (for no repeat); plays count
against caps from the moment they are decided.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from signage.config import Config
from signage.config.rules import RulesConfig
from signage.decision.context import WearMemory, build_context, viewer_key
from signage.decision.history import DeliveryHistory, ViewerMemory
from signage.decision.policy import Policy
from signage.decision.rules import Eligibility, RuleSet, apply_rules
from signage.types import AudienceSnapshot, ContentItem, Context, Decision

CONTROL = "control"
LEARNER = "learner"


@runtime_checkable
class HasProbabilities(Protocol):
    """A policy that can say how likely it is to pick each eligible item, without picking (side-effect free)."""

    def probabilities(
        self, context: Context, eligible: Sequence[ContentItem]
    ) -> Mapping[str, float] | Sequence[float]: ...


def probability_of(policy: Policy, context: Context, eligible: Sequence[ContentItem], item_id: str) -> float | None:
    """The policy's probability of picking `item_id` among `eligible`, asked without disturbing the policy: from
    its `probabilities` (a mapping by id, or a list in `eligible` order) or, for a deterministic policy (one that
    picks with propensity 1), from a pick made by a copy. None when the policy cannot say."""
    if isinstance(policy, HasProbabilities):
        probabilities = policy.probabilities(context, eligible)
        if isinstance(probabilities, Mapping):
            return float(probabilities.get(item_id, 0.0))
        ids = [item.item_id for item in eligible]
        return float(probabilities[ids.index(item_id)]) if item_id in ids else 0.0
    probe = copy.deepcopy(policy).select(context, eligible)
    if probe.propensity >= 1.0:
        return 1.0 if probe.item_id == item_id else 0.0
    return None


@dataclass(frozen=True)
class Choice:
    """One decision with everything the log needs: the arm that made it and why the other items were excluded."""

    context: Context
    eligible: tuple[str, ...]
    decision: Decision
    arm: str = LEARNER
    excluded: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    fallback: bool = False


class Playlist:
    """The control arm's plain playlist: pool order, skipping items not eligible now; it moves only when used."""

    def __init__(self, *, order: Sequence[str]) -> None:
        self._order = tuple(order)
        self._position = -1

    def peek(self, eligible_ids: Sequence[str]) -> str:
        allowed = set(eligible_ids)
        n = len(self._order)
        for step in range(1, n + 1):
            candidate = self._order[(self._position + step) % n]
            if candidate in allowed:
                return candidate
        return eligible_ids[0]  # an item outside the playlist order (added to the pool later)

    def advance(self, item_id: str) -> None:
        if item_id in self._order:
            self._position = self._order.index(item_id)


class Decider:
    def __init__(
        self,
        policy: Policy,
        items: Sequence[ContentItem],
        *,
        timezone: str,
        fallback_item: str | None,
        rules: RulesConfig | None = None,
        seed: int = 0,
        wear_memory: timedelta = timedelta(hours=12),
    ) -> None:
        if not items:
            raise ValueError("the content pool is empty: nothing to show")
        self.policy = policy
        self._items = tuple(items)
        self._timezone = timezone
        by_id = {item.item_id: item for item in self._items}
        if fallback_item is not None and fallback_item not in by_id:
            raise ValueError(f"decision.fallback_item {fallback_item!r} is not in the content pool")
        self._fallback_id = fallback_item
        self._rng = random.Random(seed)
        self._playlist = Playlist(order=[item.item_id for item in self._items])
        self._history = DeliveryHistory(timezone=timezone)
        self._viewer_keys: dict[str, str] = {}  # viewer id -> no-repeat key, for viewers seen in snapshots
        self._memory: ViewerMemory | None = None
        self._wear = WearMemory(ttl=wear_memory)  # what returning viewers watched, for the learner's context
        self.set_rules(rules if rules is not None else RulesConfig(control_share=0.0, exploration_floor=0.0))

    @classmethod
    def from_config(cls, policy: Policy, items: Sequence[ContentItem], config: Config) -> Decider:
        """The decider the engine runs: the store's time zone, the fallback item and the operator rules."""
        return cls(
            policy,
            items,
            timezone=config.screen.timezone,
            fallback_item=config.decision.fallback_item,
            rules=config.rules,
            seed=config.decision.learner_seed,
        )

    # -- what operators change without a restart -----------------------------------------------------------------
    def set_items(self, items: Sequence[ContentItem]) -> None:
        """A new content pool (hot reload): the rules are compiled against it first; on an error nothing changes."""
        if not items:
            raise ValueError("the content pool is empty: nothing to show")
        previous = self._items
        self._items = tuple(items)
        if self._fallback_id is not None and self._fallback_id not in {item.item_id for item in self._items}:
            self._items = previous
            raise ValueError(f"decision.fallback_item {self._fallback_id!r} is not in the new content pool")
        try:
            self.set_rules(self._rules_config)
        except Exception:
            self._items = previous
            raise
        self._playlist = Playlist(order=[item.item_id for item in self._items])

    def set_rules(self, rules: RulesConfig) -> None:
        """Apply new rules (validated against the pool first: on an error the old rules stay)."""
        compiled = RuleSet.compile(rules, self._items, timezone=self._timezone, fallback_item=self._fallback_id)
        if self._fallback_id is not None:
            fallback = next(item for item in self._items if item.item_id == self._fallback_id)
        else:
            safe = [
                item
                for item in self._items
                if not compiled.is_restricted(item)
                and item.category not in compiled.blocked_categories
                and not any(scope.killed for scope in compiled.scopes_of(item.item_id))
            ]
            fallback = (safe or list(self._items))[0]
        self._rules = compiled
        self._rules_config = rules
        self._fallback = fallback
        if self._memory is None or self._memory.ttl != compiled.no_repeat_window:
            self._memory = ViewerMemory(ttl=compiled.no_repeat_window)

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def fallback(self) -> ContentItem:
        return self._fallback

    # -- what the engine reports -------------------------------------------------------------------------------
    def played(self, item_id: str, started_utc: datetime, ended_utc: datetime) -> None:
        """An item left the screen: credit its measured seconds to the shares."""
        self._history.played(item_id, started_utc, ended_utc)

    def watched(self, viewer_id: str, item_id: str, *, attention_s: float, t_utc: datetime) -> None:
        """An exposure closed: remember the item for this viewer if they paid it enough attention."""
        if attention_s >= self._rules.no_repeat_min_attention_s and attention_s > 0:
            assert self._memory is not None
            key = self._viewer_keys.get(viewer_id, viewer_id)
            self._memory.watched(key, item_id, t_utc)
            self._wear.watched(key, item_id, t_utc)

    # -- the decision ------------------------------------------------------------------------------------------
    def decide(self, snapshot: AudienceSnapshot) -> Choice:
        keys = []
        for viewer in snapshot.viewers:
            key = viewer_key(viewer)
            self._viewer_keys[viewer.viewer_id] = key
            keys.append(key)
        context = build_context(snapshot, self._timezone, per_item=self._wear.features(keys, snapshot.t_utc))
        while len(self._viewer_keys) > 10_000:  # viewers long gone; watched() arrives within seconds of leaving
            del self._viewer_keys[next(iter(self._viewer_keys))]
        assert self._memory is not None
        watched = self._memory.seen_by(keys, context.t_utc) if self._rules.no_repeat else frozenset()
        eligibility = apply_rules(self._items, self._rules, context, self._history, watched)
        choice = self._choose(context, eligibility)
        self._history.started(choice.decision.item_id, context.t_utc)
        return choice

    def _choose(self, context: Context, eligibility: Eligibility) -> Choice:
        is_playlist = self.policy.name == "round_robin"
        control_share = 1.0 if is_playlist else self._rules.control_share
        # The arm is drawn for every decision, fallbacks included, so the control arm stays a fixed random share.
        arm = CONTROL if is_playlist or self._rng.random() < control_share else LEARNER
        summary = eligibility.summary()
        if not eligibility.eligible:
            why = "screen killed" if eligibility.screen_killed else "nothing eligible"
            decision = Decision(self._fallback.item_id, 1.0, _join(f"fallback item ({why})", summary))
            return Choice(context, (self._fallback.item_id,), decision, arm, eligibility.excluded, fallback=True)
        eligible = eligibility.eligible
        ids = tuple(item.item_id for item in eligible)
        if is_playlist:
            picked = self.policy.select(context, eligible)
            self._check(picked, ids)
            decision = Decision(picked.item_id, picked.propensity, _join(picked.reason, summary))
            return Choice(context, ids, decision, arm, eligibility.excluded)

        explore = self._rules.exploration_floor
        playlist_next = self._playlist.peek(ids)
        learner_q: float | None = None
        if arm == CONTROL:
            item_id, reason = playlist_next, "control arm: next in playlist"
            self._playlist.advance(item_id)
        elif explore > 0 and self._rng.random() < explore:
            item_id, reason = self._rng.choice(ids), "exploration floor: uniform among eligible"
        else:
            picked = self.policy.select(context, eligible)
            self._check(picked, ids)
            item_id, reason, learner_q = picked.item_id, picked.reason, picked.propensity
        if learner_q is None and (control_share < 1.0 and explore < 1.0):
            learner_q = self._learner_probability(context, eligible, item_id)
        propensity = control_share * (playlist_next == item_id) + (1 - control_share) * (
            explore / len(ids) + (1 - explore) * (learner_q or 0.0)
        )
        decision = Decision(item_id, min(1.0, propensity), _join(reason, summary))
        return Choice(context, ids, decision, arm, eligibility.excluded)

    def _learner_probability(self, context: Context, eligible: Sequence[ContentItem], item_id: str) -> float:
        probability = probability_of(self.policy, context, eligible, item_id)
        if probability is None:
            raise TypeError(
                f"policy {self.policy.name} is stochastic but has no probabilities(context, eligible): the decider "
                "cannot log true propensities when it mixes in the control arm or the exploration floor"
            )
        return probability

    def _check(self, decision: Decision, ids: tuple[str, ...]) -> None:
        if decision.item_id not in ids:
            raise RuntimeError(f"policy {self.policy.name} chose {decision.item_id!r}, which is not eligible")


def _join(reason: str, summary: str) -> str:
    return f"{reason} [{summary}]" if summary else reason
