"""What the gapless player reports after each presented frame: proof of play, to the frame."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["FrameReport", "PlayEvent", "PlayEventKind", "PlayerState", "StateChange", "Transition", "Urgency"]


class Transition(enum.StrEnum):
    """How the next item replaces the current one on screen."""

    CUT = "cut"  # the next frame shows only the new item
    CROSSFADE = "crossfade"  # the new item fades in over the old one
    SLIDE = "slide"  # the new item pushes the old one out to the left


class Urgency(enum.StrEnum):
    """How soon a queued item must replace the current one."""

    NEXT = "next"  # the current item's time is up: switch at the next frame (once the item is loaded)
    PREEMPT = "preempt"  # an interruption (a viewer arrived): wait until the current item had its minimum display
    IMMEDIATE = "immediate"  # must go now (restricted content, kill switch): cut at the next frame, even mid-transition


class PlayerState(enum.StrEnum):
    IDLE = "idle"  # nothing shown yet
    PLAYING = "playing"  # one item fills the screen
    TRANSITIONING = "transitioning"  # two items share the screen (crossfade or slide)
    CLOSED = "closed"


class PlayEventKind(enum.StrEnum):
    STARTED = "started"  # the item's first frame (the first frame on which any of it was visible)
    ENDED = "ended"  # the item's last frame (the last frame on which any of it was visible)
    SKIPPED = "skipped"  # queued, then replaced by a newer show() before it reached the screen: never shown


@dataclass(frozen=True)
class PlayEvent:
    """One item reaching or leaving the screen. `frame` and `t_mono` are those of the frame the event is about:
    for ENDED that is the previous frame, reported one frame later (only then is it known to be the last one).

    `fallback_reason` is set when the file could not be shown and the item's title card was shown instead."""

    kind: PlayEventKind
    item_id: str
    decision_id: str
    frame: int
    t_mono: float
    fallback_reason: str = ""


@dataclass(frozen=True)
class StateChange:
    """A named move of the player's state machine, at the frame where it happened."""

    name: str
    before: PlayerState
    after: PlayerState
    frame: int
    t_mono: float


@dataclass(frozen=True)
class FrameReport:
    """The result of one `present()`: the frame's index and time, and what started, ended or changed with it."""

    frame: int
    t_mono: float
    state: PlayerState
    events: tuple[PlayEvent, ...]
    state_changes: tuple[StateChange, ...]
    quit_requested: bool
    draw_s: float  # wall time spent drawing and flipping this frame
