"""Simulated gaze of a watcher, in degrees from the screen's centre, as an eye tracker on the camera would report it.

A watcher either reads (the item has a detail page and interests them: fixations of a quarter to two fifths of a
second, word-sized steps to the right along a line, a return sweep to the start of the next line) or looks the
picture over (fixations of half a second to a second at random places). People who do not watch have no gaze
(NaN): the camera sees no eyes turned to the screen. `SCREEN_SPAN_DEG` maps screen widths to degrees; it matches
the audience stage's default `reading_span_deg`.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["SCREEN_SPAN_DEG", "GazeMode", "WatcherGaze"]

SCREEN_SPAN_DEG = 40.0
_NOISE_DEG = 0.25  # measurement noise of one gaze sample


class GazeMode(enum.Enum):
    READING = "reading"
    LOOKING = "looking"  # looking the picture over


class WatcherGaze:
    """The gaze of one watcher over one watching episode: `sample(t)` gives (horizontal, vertical) degrees."""

    def __init__(self, mode: GazeMode, rng: np.random.Generator, t_mono: float) -> None:
        self.mode = mode
        self._rng = rng
        self._left = float(rng.uniform(0.1, 0.25))
        self._right = self._left + float(rng.uniform(0.4, 0.6))
        self._line_y = float(rng.uniform(-0.15, -0.05))
        self._x = self._left if mode is GazeMode.READING else float(rng.uniform(0.1, 0.9))
        self._y = self._line_y
        self._fix_until = t_mono + self._fixation_s()

    def _fixation_s(self) -> float:
        if self.mode is GazeMode.READING:
            return float(self._rng.uniform(0.25, 0.4))
        return float(self._rng.uniform(0.5, 1.0))

    def sample(self, t_mono: float) -> tuple[float, float]:
        if t_mono >= self._fix_until:
            if self.mode is GazeMode.READING:
                step = float(self._rng.uniform(0.05, 0.09))
                if self._x + step > self._right:  # end of the line: sweep back, one line down
                    self._x = self._left + float(self._rng.uniform(-0.01, 0.01))
                    self._y = self._y + 0.04 if self._y < 0.2 else self._line_y
                else:
                    self._x += step
            else:
                self._x, self._y = float(self._rng.uniform(0.1, 0.9)), float(self._rng.uniform(-0.3, 0.3))
            self._fix_until = t_mono + self._fixation_s()
        noise = self._rng.normal(0.0, _NOISE_DEG, 2)
        return (
            (self._x - 0.5) * SCREEN_SPAN_DEG + float(noise[0]),
            self._y * SCREEN_SPAN_DEG * 0.5625 + float(noise[1]),
        )
