"""The decision step: context, eligible set, the policy's choice, and a fallback that is never a black screen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signage.decision.context import build_context
from signage.decision.policy import Policy
from signage.decision.rules import eligible_items
from signage.types import AudienceSnapshot, ContentItem, Context, Decision


@dataclass(frozen=True)
class Choice:
    context: Context
    eligible: tuple[str, ...]
    decision: Decision


class Decider:
    def __init__(
        self, policy: Policy, items: Sequence[ContentItem], *, timezone: str, fallback_item: str | None
    ) -> None:
        if not items:
            raise ValueError("the content pool is empty: nothing to show")
        self.policy = policy
        self._items = tuple(items)
        self._timezone = timezone
        by_id = {item.item_id: item for item in self._items}
        if fallback_item is not None and fallback_item not in by_id:
            raise ValueError(f"decision.fallback_item {fallback_item!r} is not in the content pool")
        safe = [item for item in self._items if not item.restricted]
        self._fallback = by_id[fallback_item] if fallback_item else (safe or list(self._items))[0]

    def decide(self, snapshot: AudienceSnapshot) -> Choice:
        context = build_context(snapshot, self._timezone)
        eligible = eligible_items(self._items, context)
        if not eligible:
            decision = Decision(self._fallback.item_id, 1.0, "nothing eligible: fallback item")
            return Choice(context, (self._fallback.item_id,), decision)
        decision = self.policy.select(context, eligible)
        ids = tuple(item.item_id for item in eligible)
        if decision.item_id not in ids:
            raise RuntimeError(f"policy {self.policy.name} chose {decision.item_id!r}, which is not eligible")
        return Choice(context, ids, decision)
