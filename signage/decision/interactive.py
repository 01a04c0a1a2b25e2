"""Interactive detail: when a viewer reads the item on screen and it has a detail page, open the page; go back to the
normal rotation when nobody pays attention any more (or the page's time is up, which the engine's rotation handles).

This is a rule, not the policy: the engine logs an opening as a decision with trigger "interactive", the detail page
as the chosen (and only eligible) item and propensity 1 and queues it with `Urgency.PREEMPT`; the page's exposures
teach the policy like any other's, so whether detail pages hold attention is learned. `interactive_detail` is the
pure test; `DetailSession` is the explicit state machine the engine keeps across ticks:

    ROTATION --open (a viewer reads an item with a detail page)--> DETAIL
    DETAIL --lost (nobody facing or reading for `lost_after_s`)--> ROTATION   (the engine decides the next item)
    DETAIL --left (something else is on screen: the page ended or was cut)--> ROTATION
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from signage.content import ContentPool
from signage.types import AudienceSnapshot, ContentItem, ViewerStatus

__all__ = [
    "RETURN_TRIGGER",
    "TRIGGER",
    "DetailMove",
    "DetailMoveKind",
    "DetailSession",
    "DetailState",
    "interactive_detail",
    "readers",
]

TRIGGER = "interactive"  # the decision's trigger when a detail page opens
RETURN_TRIGGER = "attention_lost"  # the decision's trigger when the engine goes back to the rotation early


def readers(snapshot: AudienceSnapshot) -> tuple[str, ...]:
    """Ids of the viewers reading what is on screen now."""
    return tuple(v.viewer_id for v in snapshot.viewers if v.status is ViewerStatus.READING)


def interactive_detail(
    snapshot: AudienceSnapshot,
    current_item: ContentItem | None,
    pool: ContentPool,
    *,
    allowed: Callable[[ContentItem], bool] = lambda _item: True,
) -> ContentItem | None:
    """The detail page to open now, or None: someone is reading the current item, it has a detail page in the pool
    (a quarantined page is not), and the page may be shown (never a restricted page when a minor may be present or
    the camera is out; `allowed` adds the operator's rules: kill switches, blocked categories)."""
    if current_item is None or not current_item.detail_id or not readers(snapshot):
        return None
    detail = pool.detail_of(current_item.item_id)
    if detail is None:
        return None
    if detail.restricted and (snapshot.minor_possible or not snapshot.camera_ok):
        return None
    return detail if allowed(detail) else None


class DetailState(enum.StrEnum):
    ROTATION = "rotation"  # the normal rotation: the policy decides
    DETAIL = "detail"  # a detail page was opened for a reader (queued or on screen)


class DetailMoveKind(enum.StrEnum):
    OPEN = "open"  # decide the detail page now (trigger "interactive", propensity 1) and show it with PREEMPT
    RETURN = "return"  # attention lost: decide the next rotation item now (trigger "attention_lost")


@dataclass(frozen=True)
class DetailMove:
    kind: DetailMoveKind
    item: ContentItem | None  # the page to open (OPEN); None for RETURN
    parent_id: str  # the item that was being read
    reason: str


class DetailSession:
    """Remembers whether a detail page is open and since when nobody paid attention to it (see the module doc)."""

    def __init__(self, *, lost_after_s: float = 2.0) -> None:
        if lost_after_s <= 0:
            raise ValueError(f"DetailSession: lost_after_s must be > 0, got {lost_after_s}")
        self._lost_after_s = lost_after_s
        self._state = DetailState.ROTATION
        self._detail_id = ""
        self._parent_id = ""
        self._attended_mono = 0.0

    @property
    def state(self) -> DetailState:
        return self._state

    @property
    def detail_id(self) -> str:
        """The open detail page ("" in the rotation)."""
        return self._detail_id

    def update(
        self,
        snapshot: AudienceSnapshot,
        showing: ContentItem | None,
        pool: ContentPool,
        *,
        allowed: Callable[[ContentItem], bool] = lambda _item: True,
    ) -> DetailMove | None:
        """One tick: what the engine must do now, if anything. `showing` is the newest item on screen."""
        t = snapshot.t_mono
        if self._state is DetailState.ROTATION:
            detail = interactive_detail(snapshot, showing, pool, allowed=allowed)
            if detail is None or showing is None:
                return None
            self._state, self._detail_id, self._parent_id = DetailState.DETAIL, detail.item_id, showing.item_id
            self._attended_mono = t
            who = ", ".join(readers(snapshot))
            return DetailMove(DetailMoveKind.OPEN, detail, showing.item_id, f"reading {showing.item_id}: {who}")
        if showing is not None and showing.item_id not in (self._detail_id, self._parent_id):
            self._leave()  # the page ended (the rotation moved on) or was cut
            return None
        if any(v.facing or v.status is ViewerStatus.READING for v in snapshot.viewers):
            self._attended_mono = t
            return None
        if t - self._attended_mono < self._lost_after_s:
            return None
        parent = self._parent_id
        lost_for = t - self._attended_mono
        self._leave()
        return DetailMove(DetailMoveKind.RETURN, None, parent, f"nobody attended for {lost_for:.1f} s")

    def _leave(self) -> None:
        self._state, self._detail_id, self._parent_id = DetailState.ROTATION, "", ""
