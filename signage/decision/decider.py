"""The decision step: context, eligible set (rules), arm, the policy's choice, and the fallback.

Each decision:
1. builds the context from the audience snapshot (store-local time);
2. draws the arm: with probability `control_share` the plain playlist decides (arm "control"), otherwise the
   learner (arm "learner"), which with probability `exploration_floor` picks uniformly among the eligible items
   and otherwise asks the policy;
3. filters the pool through the operator rules (`signage.decision.rules`) once per arm, keeping why each item was
   excluded: the safety rules (kill switches, blocked, restricted, schedules, no repeat) are the same for both, but
   caps and shares are counted on each arm's own delivery (`DeliveryHistory.view`), so the control arm is a plain
   playlist on its own slots that the learner cannot starve or shape (its uplift estimate stays unbiased), and
   every min/max share holds on the control slots, on the learner slots, and so on the whole screen;
4. when nothing is eligible for the drawn arm, shows the configured fallback item: never a black screen.

The logged eligible set is the drawn arm's; the learner arm's is logged beside it (`Choice.learner_eligible`) for
off-policy evaluation, which asks a target policy about the set it would have faced. The logged propensity is the
true probability of the chosen item given the context and both arms' eligible sets, over all of that mixing: p(x) =
c * [playlist's next == x] + (1 - c) * (e / n + (1 - e) * q(x)), with the playlist's next taken among the control
arm's items (the fallback if none), n and q among the learner's (the fallback if none) and q the policy's
probability of x. When the policy does not pick x itself, q(x) comes from its `probabilities(context, eligible)` if
it has one; a policy without it must be deterministic (propensity 1), and is then asked on a copy of itself.
When the policy *is* the plain playlist, every decision is a control decision and no mixing applies.

The Decider remembers what the rules need from calls the engine makes: `played(...)` when an item leaves the
screen (measured seconds, for shares; credited to the arm of the latest decision for that item) and `watched(...)`
when an exposure closes (for no repeat); plays count against caps from the moment they are decided. After a
restart, pass `history=DeliveryHistory.from_store(...)` so caps and shares go on from the logged plays.
"""

from __future__ import annotations

import copy
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from signage.config import Config
from signage.config.rules import RulesConfig, ScopeRulesConfig
from signage.decision.context import WearMemory, build_context, viewer_key
from signage.decision.history import CONTROL, LEARNER, DeliveryHistory, ViewerMemory
from signage.decision.policy import Policy
from signage.decision.rules import Eligibility, RulesError, RuleSet, apply_rules, detail_refusal
from signage.types import AudienceSnapshot, ContentItem, Context, Decision

__all__ = ["CONTROL", "LEARNER", "Choice", "Decider", "Playlist", "probabilities_by_id", "probability_of"]

_PENDING_KEEP = timedelta(hours=1)  # a decision whose play has not ended within this long was skipped


@runtime_checkable
class HasProbabilities(Protocol):
    """A policy that can say how likely it is to pick each eligible item, without picking (side-effect free)."""

    def probabilities(
        self, context: Context, eligible: Sequence[ContentItem]
    ) -> Mapping[str, float] | Sequence[float]: ...


def probabilities_by_id(policy: Policy, context: Context, eligible: Sequence[ContentItem]) -> dict[str, float] | None:
    """Every eligible item's probability from the policy's `probabilities` (a mapping by id, or a list in `eligible`
    order), by id; None when the policy has no `probabilities`."""
    if not isinstance(policy, HasProbabilities):
        return None
    probabilities = policy.probabilities(context, eligible)
    if isinstance(probabilities, Mapping):
        return {item.item_id: float(probabilities.get(item.item_id, 0.0)) for item in eligible}
    return {item.item_id: float(p) for item, p in zip(eligible, probabilities, strict=True)}


def probability_of(policy: Policy, context: Context, eligible: Sequence[ContentItem], item_id: str) -> float | None:
    """The policy's probability of picking `item_id` among `eligible`, asked without disturbing the policy: from
    its `probabilities` or, for a deterministic policy (one that picks with propensity 1), from a pick made by a
    copy. None when the policy cannot say."""
    by_id = probabilities_by_id(policy, context, eligible)
    if by_id is not None:
        return by_id.get(item_id, 0.0)
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
    # The learner arm's eligible ids (the fallback's when it has none), whichever arm decided: what a policy in the
    # learner's place would have chosen from; off-policy evaluation asks its target about this set.
    learner_eligible: tuple[str, ...] = ()
    # Viewer id → what that viewer alone had watched (`item:<id>:...`), for learning each reward per viewer
    # (`signage.decision.context.for_viewer`); never logged: it is keyed by viewer, the context by group.
    own_memory: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: MappingProxyType({}))


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
        item_rules: Mapping[str, ScopeRulesConfig] | None = None,
        history: DeliveryHistory | None = None,
        detail_items: Sequence[ContentItem] = (),
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
        # Its own stream, apart from the policy's even when both are given the same seed: draws shared by the arm,
        # the floor and the policy would make the logged propensities wrong.
        self._rng = random.Random(f"decider:{seed}")
        self._playlist = Playlist(order=[item.item_id for item in self._items])
        if history is not None and history.timezone != timezone:
            raise ValueError(f"the delivery history is in {history.timezone}, the screen in {timezone}")
        self._history = history if history is not None else DeliveryHistory(timezone=timezone)
        self._pending: deque[tuple[datetime, str, str]] = deque()  # (decided, item, arm) not yet played
        self._item_rules: Mapping[str, ScopeRulesConfig] = dict(item_rules or {})
        self._detail_items = tuple(detail_items)  # detail pages outside the rotation: rules may name them
        self._viewer_keys: dict[str, str] = {}  # viewer id -> no-repeat key, for viewers seen in snapshots
        self._memory: ViewerMemory | None = None
        self._wear = WearMemory(ttl=wear_memory)  # what returning viewers watched, for the learner's context
        self.decisions_made = 0  # every decision, whichever arm made it (learning curves count these)
        self.decisions_with_people = 0  # ... of them, those made while somebody was in front of the screen
        self.set_rules(rules if rules is not None else RulesConfig(control_share=0.0, exploration_floor=0.0))
        self._tell_policy_the_pool()

    @classmethod
    def from_config(
        cls,
        policy: Policy,
        items: Sequence[ContentItem],
        config: Config,
        *,
        item_rules: Mapping[str, ScopeRulesConfig] | None = None,
        history: DeliveryHistory | None = None,
        detail_items: Sequence[ContentItem] = (),
    ) -> Decider:
        """The decider the engine runs: the store's time zone, the fallback item and the operator rules, with the
        pool's own per-item rules (`ContentPool.item_rules`), its detail pages (`ContentPool.detail_items`) and
        the delivery so far (after a restart)."""
        return cls(
            policy,
            items,
            timezone=config.screen.timezone,
            fallback_item=config.decision.fallback_item,
            rules=config.rules,
            seed=config.decision.learner_seed,
            item_rules=item_rules,
            history=history,
            detail_items=detail_items,
        )

    # -- what operators change without a restart -----------------------------------------------------------------
    def set_items(
        self,
        items: Sequence[ContentItem],
        *,
        item_rules: Mapping[str, ScopeRulesConfig] | None = None,
        detail_items: Sequence[ContentItem] = (),
    ) -> None:
        """A new content pool (hot reload) with its per-item rules (schedules, shares) and detail pages: the rules
        are compiled against it first; on an error nothing changes. Delivery so far (caps, shares) carries over."""
        if not items:
            raise ValueError("the content pool is empty: nothing to show")
        previous = self._items, self._item_rules, self._detail_items
        self._items, self._item_rules, self._detail_items = tuple(items), dict(item_rules or {}), tuple(detail_items)
        if self._fallback_id is not None and self._fallback_id not in {item.item_id for item in self._items}:
            self._items, self._item_rules, self._detail_items = previous
            raise ValueError(f"decision.fallback_item {self._fallback_id!r} is not in the new content pool")
        try:
            self.set_rules(self._rules_config)
        except Exception:
            self._items, self._item_rules, self._detail_items = previous
            raise
        self._playlist = Playlist(order=[item.item_id for item in self._items])
        self._tell_policy_the_pool()

    def _tell_policy_the_pool(self) -> None:
        """A learner that reads item features (`know`) is given the pool's items, detail pages included."""
        know = getattr(self.policy, "know", None)
        if callable(know):
            know((*self._items, *self._detail_items))

    def set_rules(self, rules: RulesConfig) -> None:
        """Apply new rules (validated against the pool first: on an error the old rules stay)."""
        compiled = RuleSet.compile(
            rules,
            self._items,
            timezone=self._timezone,
            fallback_item=self._fallback_id,
            item_rules=self._item_rules,
            detail_items=self._detail_items,
        )
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
            if not safe:  # a fallback must be safe for anyone: never a restricted, blocked or killed item
                raise RulesError(
                    "no item of the content pool is safe to fall back on (each is restricted, blocked or killed): "
                    "set decision.fallback_item to an item anyone may see"
                )
            fallback = safe[0]
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

    @property
    def history(self) -> DeliveryHistory:
        return self._history

    def detail_refusal(self, page: ContentItem, snapshot: AudienceSnapshot) -> str | None:
        """Why a reader may not get this detail page now (None: they may): the screen kill switch, kill switches,
        blocked categories, restricted content and schedules, as for the rotation (`rules.detail_refusal`)."""
        return detail_refusal(page, self._rules, build_context(snapshot, self._timezone))

    # -- what the engine reports -------------------------------------------------------------------------------
    def played(self, item_id: str, started_utc: datetime, ended_utc: datetime, *, arm: str | None = None) -> None:
        """An item left the screen: credit its measured seconds to the shares of the arm that decided it (given,
        or that of the latest decision for the item made by the time it started; none: an interactive page)."""
        if arm is None:
            arm = self._arm_of(item_id, started_utc)
        self._history.played(item_id, started_utc, ended_utc, arm=arm)

    def _arm_of(self, item_id: str, started_utc: datetime) -> str:
        while self._pending and self._pending[0][0] < started_utc - _PENDING_KEEP:
            self._pending.popleft()  # skipped decisions: their items never reached the screen
        for index in range(len(self._pending) - 1, -1, -1):
            decided, pending_id, arm = self._pending[index]
            if pending_id == item_id and decided <= started_utc:
                del self._pending[index]
                return arm
        return LEARNER

    def watched(self, viewer_id: str, item_id: str, *, attention_s: float, t_utc: datetime) -> None:
        """An exposure closed: remember the item for this viewer if they paid it enough attention."""
        if attention_s >= self._rules.no_repeat_min_attention_s and attention_s > 0:
            assert self._memory is not None
            key = self._viewer_keys.get(viewer_id, viewer_id)
            self._memory.watched(key, item_id, t_utc)
            self._wear.watched(key, item_id, t_utc, attention_s=attention_s)

    # -- the decision ------------------------------------------------------------------------------------------
    def decide(self, snapshot: AudienceSnapshot) -> Choice:
        keys = []
        for viewer in snapshot.viewers:
            key = viewer_key(viewer)
            self._viewer_keys[viewer.viewer_id] = key
            keys.append(key)
        context = build_context(snapshot, self._timezone, per_item=self._wear.features(keys, snapshot.t_utc))
        self.decisions_made += 1
        self.decisions_with_people += context.n_present > 0
        while len(self._viewer_keys) > 10_000:  # viewers long gone; watched() arrives within seconds of leaving
            del self._viewer_keys[next(iter(self._viewer_keys))]
        assert self._memory is not None
        watched = self._memory.seen_by(keys, context.t_utc) if self._rules.no_repeat else frozenset()
        is_playlist = self.policy.name == "round_robin"
        control_share = 1.0 if is_playlist else self._rules.control_share
        # The arm is drawn for every decision, fallbacks included, so the control arm stays a fixed random share.
        arm = CONTROL if is_playlist or self._rng.random() < control_share else LEARNER
        by_arm: dict[str, Eligibility] = {}
        for name, part in ((CONTROL, control_share), (LEARNER, 1.0 - control_share)):
            if part > 0:  # the arm can be drawn: its eligible set enters every propensity
                view = self._history.view(name, part)
                by_arm[name] = apply_rules(self._items, self._rules, context, view, watched)
        choice = self._choose(context, by_arm, arm, control_share, is_playlist)
        learner = by_arm.get(LEARNER)
        if learner is None:  # the playlist is the policy: its own set is the one a replacement would face
            learner_ids = choice.eligible
        else:
            learner_ids = tuple(item.item_id for item in learner.eligible) or (self._fallback.item_id,)
        choice = replace(choice, learner_eligible=learner_ids)
        own = {
            viewer.viewer_id: MappingProxyType(self._wear.features((key,), context.t_utc))
            for viewer, key in zip(snapshot.viewers, keys, strict=True)
        }
        choice = replace(choice, own_memory=MappingProxyType(own))
        self._history.started(choice.decision.item_id, context.t_utc, arm=arm)
        self._pending.append((context.t_utc, choice.decision.item_id, arm))
        while len(self._pending) > 256:
            self._pending.popleft()
        return choice

    def _choose(
        self, context: Context, by_arm: Mapping[str, Eligibility], arm: str, control_share: float, is_playlist: bool
    ) -> Choice:
        eligibility = by_arm[arm]
        summary = eligibility.summary()
        fallback_id = self._fallback.item_id
        if not eligibility.eligible:
            why = "screen killed" if eligibility.screen_killed else "nothing eligible"
            reason = _join(f"fallback item ({why})", summary)
            propensity = 1.0 if is_playlist else self._mixture(context, by_arm, control_share, fallback_id, None)
            decision = Decision(fallback_id, propensity, reason)
            return Choice(context, (fallback_id,), decision, arm, eligibility.excluded, fallback=True)
        eligible = eligibility.eligible
        ids = tuple(item.item_id for item in eligible)
        if is_playlist:
            picked = self.policy.select(context, eligible)
            self._check(picked, ids)
            decision = Decision(picked.item_id, picked.propensity, _join(picked.reason, summary))
            return Choice(context, ids, decision, arm, eligibility.excluded)

        explore = self._rules.exploration_floor
        learner_q: float | None = None
        if arm == CONTROL:
            item_id, reason = self._playlist.peek(ids), "control arm: next in playlist"
        elif explore > 0 and self._rng.random() < explore:
            item_id, reason = self._rng.choice(ids), "exploration floor: uniform among eligible"
        else:
            picked = self.policy.select(context, eligible)
            self._check(picked, ids)
            item_id, reason, learner_q = picked.item_id, picked.reason, picked.propensity
        propensity = self._mixture(context, by_arm, control_share, item_id, learner_q)
        if arm == CONTROL:
            self._playlist.advance(item_id)
        decision = Decision(item_id, propensity, _join(reason, summary))
        return Choice(context, ids, decision, arm, eligibility.excluded)

    def _mixture(
        self,
        context: Context,
        by_arm: Mapping[str, Eligibility],
        control_share: float,
        item_id: str,
        learner_q: float | None,
    ) -> float:
        """The probability that this decision shows `item_id`, over the arm draw, the playlist, the exploration
        floor and the policy, each arm on its own eligible set (the fallback where that set is empty)."""
        fallback_id = self._fallback.item_id
        p_control = 0.0
        control = by_arm.get(CONTROL)
        if control is not None:
            ids = [item.item_id for item in control.eligible]
            p_control = float((self._playlist.peek(ids) if ids else fallback_id) == item_id)
        p_learner = 0.0
        learner = by_arm.get(LEARNER)
        if learner is not None:
            if not learner.eligible:
                p_learner = float(item_id == fallback_id)
            elif item_id in {item.item_id for item in learner.eligible}:
                explore = self._rules.exploration_floor
                if learner_q is None and explore < 1.0:
                    learner_q = self._learner_probability(context, learner.eligible, item_id)
                p_learner = explore / len(learner.eligible) + (1 - explore) * (learner_q or 0.0)
        return min(1.0, control_share * p_control + (1 - control_share) * p_learner)

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
