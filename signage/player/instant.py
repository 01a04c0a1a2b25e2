"""A screen with no pixels: what the engine shows when it runs without a display (`signage simulate`, tests).

It follows the gapless player's contract exactly, with every item ready at once: a queued item starts on the next
presented frame (a PREEMPT one once the item on screen was shown for `min_display_s`), and the item it replaces ends
on that same frame; a newer `show()` skips a queued one.
"""

from __future__ import annotations

from collections.abc import Sequence

from signage.player.events import FrameReport, PlayerState, PlayEvent, PlayEventKind, Urgency
from signage.types import ContentItem


class InstantScreen:
    def __init__(self, *, min_display_s: float = 0.0) -> None:
        self._min_display_s = min_display_s
        self._current: tuple[ContentItem, str] | None = None
        self._current_since = 0.0
        self._pending: tuple[ContentItem, str] | None = None
        self._pending_urgency = Urgency.NEXT
        self._queued: list[PlayEvent] = []
        self._frames = 0
        self._last_t = 0.0

    def preload(self, item: ContentItem) -> None:
        """Nothing to load."""

    def wait_ready(self, item: ContentItem, timeout_s: float) -> bool:
        return True

    def show(self, item: ContentItem, *, decision_id: str, urgency: Urgency = Urgency.NEXT) -> None:
        if self._pending is not None:
            skipped, skipped_id = self._pending
            self._queued.append(
                PlayEvent(PlayEventKind.SKIPPED, skipped.item_id, skipped_id, self._frames, self._last_t)
            )
        self._pending = (item, decision_id)
        self._pending_urgency = urgency

    def present(self, now: float, overlay_lines: Sequence[str] = ()) -> FrameReport:
        events, self._queued = self._queued, []
        waits = (
            self._pending_urgency is Urgency.PREEMPT
            and self._current is not None
            and now - self._current_since < self._min_display_s
        )
        if self._pending is not None and not waits:
            if self._current is not None:
                old, old_id = self._current
                events.append(PlayEvent(PlayEventKind.ENDED, old.item_id, old_id, self._frames, now))
            item, decision_id = self._current = self._pending
            self._pending, self._current_since = None, now
            events.append(PlayEvent(PlayEventKind.STARTED, item.item_id, decision_id, self._frames, now))
        frame = self._frames
        self._frames += 1
        self._last_t = now
        state = PlayerState.PLAYING if self._current else PlayerState.IDLE
        return FrameReport(frame, now, state, tuple(events), (), False, 0.0)

    def close(self) -> tuple[PlayEvent, ...]:
        events, self._queued = self._queued, []
        if self._current is not None:
            item, decision_id = self._current
            events.append(PlayEvent(PlayEventKind.ENDED, item.item_id, decision_id, self._frames, self._last_t))
            self._current = None
        return tuple(events)
