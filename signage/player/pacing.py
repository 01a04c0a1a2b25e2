"""How fast the player really presents: a rolling frame-rate meter for the operator overlay and the benchmarks."""

from __future__ import annotations

from collections import deque


class FrameRateMeter:
    """Presented frames per second over the last `window_s` seconds of wall time, from flip timestamps."""

    def __init__(self, window_s: float = 2.0) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self._window_s = window_s
        self._stamps: deque[float] = deque()

    def tick(self, t_s: float) -> None:
        """Record one presented frame at time `t_s` (seconds, monotonic)."""
        self._stamps.append(t_s)
        while self._stamps and t_s - self._stamps[0] > self._window_s:
            self._stamps.popleft()

    @property
    def fps(self) -> float:
        """Frames per second over the window; 0 until two frames were seen."""
        if len(self._stamps) < 2:
            return 0.0
        span = self._stamps[-1] - self._stamps[0]
        return (len(self._stamps) - 1) / span if span > 0 else 0.0
