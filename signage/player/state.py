"""The player's state machine: an Enum of states and the named moves allowed between them."""

from __future__ import annotations

import enum
import logging

from signage.player.events import PlayerState, StateChange

__all__ = ["IllegalMoveError", "Move", "PlayerStateMachine"]

log = logging.getLogger("signage.player")


class Move(enum.StrEnum):
    FIRST_ITEM = "first_item"  # idle → playing: the first item is on screen
    CUT = "cut"  # playing → playing: the next item replaced the current one in one frame
    BEGIN_TRANSITION = "begin_transition"  # playing → transitioning: crossfade or slide started
    COMPLETE_TRANSITION = "complete_transition"  # transitioning → playing: only the new item is left
    PREEMPT = "preempt"  # transitioning → playing: an immediate item cut through a running transition
    CLOSE = "close"  # any → closed


_ALLOWED: dict[Move, tuple[frozenset[PlayerState], PlayerState]] = {
    Move.FIRST_ITEM: (frozenset({PlayerState.IDLE}), PlayerState.PLAYING),
    Move.CUT: (frozenset({PlayerState.PLAYING}), PlayerState.PLAYING),
    Move.BEGIN_TRANSITION: (frozenset({PlayerState.PLAYING}), PlayerState.TRANSITIONING),
    Move.COMPLETE_TRANSITION: (frozenset({PlayerState.TRANSITIONING}), PlayerState.PLAYING),
    Move.PREEMPT: (frozenset({PlayerState.TRANSITIONING}), PlayerState.PLAYING),
    Move.CLOSE: (frozenset({PlayerState.IDLE, PlayerState.PLAYING, PlayerState.TRANSITIONING}), PlayerState.CLOSED),
}


class IllegalMoveError(RuntimeError):
    """A move the state machine does not allow from its current state: a bug in the player."""


class PlayerStateMachine:
    """Holds the state; `move()` checks the move against the table and returns the change it made."""

    def __init__(self) -> None:
        self._state = PlayerState.IDLE

    @property
    def state(self) -> PlayerState:
        return self._state

    def move(self, move: Move, *, frame: int, t_mono: float) -> StateChange:
        sources, target = _ALLOWED[move]
        if self._state not in sources:
            raise IllegalMoveError(f"player: move {move.value!r} is not allowed in state {self._state.value!r}")
        change = StateChange(name=move.value, before=self._state, after=target, frame=frame, t_mono=t_mono)
        self._state = target
        log.debug("player: %s (%s → %s) at frame %d", move.value, change.before, change.after, frame)
        return change
