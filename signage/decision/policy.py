"""The policy interface every policy plugs into, and the plain playlist (the control arm)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from signage.types import ContentItem, Context, Decision


@runtime_checkable
class Policy(Protocol):
    """Picks one of the eligible items and learns from the reward of an exposure it caused."""

    name: str
    version: str

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        """Choose an item from `eligible` (never empty); return it with its probability and a short reason."""
        ...

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """Take the reward of one exposure to `item_id`, shown in `context`."""
        ...


class RoundRobinPolicy:
    """The plain playlist: items in pool order, skipping those not eligible now. It does not learn.

    Its choice is deterministic given the previous one, so the propensity of what it picks is 1.
    """

    name = "round_robin"
    version = "1"

    def __init__(self, *, order: Sequence[str]) -> None:
        if not order:
            raise ValueError("RoundRobinPolicy needs at least one item in its order")
        self._order = tuple(order)
        self._position = -1

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        if not eligible:
            raise ValueError("select() needs at least one eligible item")
        allowed = {item.item_id for item in eligible}
        n = len(self._order)
        for step in range(1, n + 1):
            candidate = self._order[(self._position + step) % n]
            if candidate in allowed:
                self._position = (self._position + step) % n
                skipped = step - 1
                reason = "next in playlist" if not skipped else f"next in playlist ({skipped} not eligible, skipped)"
                return Decision(item_id=candidate, propensity=1.0, reason=reason)
        # Eligible items outside the playlist order (added to the pool later): take the first, in pool order.
        return Decision(item_id=eligible[0].item_id, propensity=1.0, reason="not in playlist order; first eligible")

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """The playlist does not learn; it is the baseline that learning policies are measured against."""
