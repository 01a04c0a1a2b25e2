"""Reading detection from the horizontal gaze series of one viewer.

Reading text on a screen moves the eyes in a recognisable rhythm: fixations of a fifth to a third of a second,
short rightward saccades from word to word, then a long leftward return sweep to the start of the next line.
Scanning jumps both ways by any amount; fixating holds one place; following something that moves (smooth pursuit)
drifts without fixations; sensor noise does neither.

`classify(times, xs)` decides on a window of samples, in four steps:
1. drop missing samples (NaN: no gaze this frame) and median-filter the rest (removes single-sample spikes);
2. group samples into fixations: consecutive samples within `fixation_radius` of the group's running mean, lasting
   at least `min_fixation_s`, whose internal drift is slower than `max_fixation_drift` (pursuit is not reading);
3. the steps between consecutive fixations are forward (rightward, `min_step`..`max_step`), a return sweep
   (leftward by at least `min_return`), a short regression (leftward, smaller than a return sweep: readers go back
   a word now and then) or other (a long jump, or a gap between fixations);
4. a *line* is at least `min_steps_per_line` forward steps followed by a return sweep that undoes at least half of
   the line's progress. It is reading when the window holds `min_lines` lines and reading-like steps make up at
   least `min_reading_share` of all steps.

Positions are in screen widths (0 = left edge, 1 = right edge). Left-to-right scripts only for now.

`ReadingMonitor` applies `classify` to a sliding window per viewer and reports the start and end of reading with
hysteresis, as the event the decision engine acts on (e.g. to open an item's detail content).
"""

from __future__ import annotations

import collections
import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from signage.config import AudienceConfig

Samples = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class ReadingParams:
    fixation_radius: float = 0.025
    min_fixation_s: float = 0.1
    max_fixation_drift: float = 0.15  # screen widths per second
    min_step: float = 0.015
    max_step: float = 0.2
    min_return: float = 0.15
    max_gap_s: float = 0.6  # a longer break between fixations ends the line
    min_steps_per_line: int = 2
    min_lines: int = 2
    min_reading_share: float = 0.7
    window_s: float = 6.0
    release_s: float = 2.0  # reading ends after this long without a reading verdict
    # The window is classified at most this often: reading takes seconds of lines to show, so a verdict a quarter
    # second late changes nothing, and a 30 fps camera no longer re-reads a 6 s window every frame.
    check_interval_s: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.min_step < self.max_step:
            raise ValueError(f"ReadingParams: need 0 < min_step < max_step, got {self.min_step}, {self.max_step}")
        if self.min_lines < 1 or self.min_steps_per_line < 1:
            raise ValueError("ReadingParams: min_lines and min_steps_per_line must be >= 1")
        if self.check_interval_s < 0:
            raise ValueError(f"ReadingParams: check_interval_s must be >= 0, got {self.check_interval_s}")


DEFAULT_PARAMS = ReadingParams()


def params_from_config(config: AudienceConfig) -> ReadingParams:
    """The detector's parameters from the `reading_*` keys of [audience] (bounds are checked there)."""
    return ReadingParams(
        fixation_radius=config.reading_fixation_radius,
        min_fixation_s=config.reading_min_fixation_s,
        max_fixation_drift=config.reading_max_fixation_drift,
        min_step=config.reading_min_step,
        max_step=config.reading_max_step,
        min_return=config.reading_min_return,
        max_gap_s=config.reading_max_gap_s,
        min_steps_per_line=config.reading_min_steps_per_line,
        min_lines=config.reading_min_lines,
        min_reading_share=config.reading_min_share,
        window_s=config.reading_window_s,
        release_s=config.reading_release_s,
    )


class Step(enum.StrEnum):
    FORWARD = "forward"
    RETURN = "return"
    REGRESSION = "regression"
    OTHER = "other"


@dataclass(frozen=True)
class Fixation:
    start_s: float
    end_s: float
    x: float


@dataclass(frozen=True)
class ReadingVerdict:
    reading: bool
    lines: int
    fixations: int
    reading_share: float  # share of steps between fixations that look like reading


def fixations(
    times: Sequence[float] | Samples, xs: Sequence[float] | Samples, params: ReadingParams = DEFAULT_PARAMS
) -> list[Fixation]:
    """The fixations in a gaze series (see step 2 of the module docstring)."""
    # Plain Python floats: a window holds a few dozen samples and this runs once per sample per viewer, where
    # numpy's cost per call would outweigh the arithmetic.
    pairs = [(float(t), float(x)) for t, x in zip(times, xs, strict=True) if math.isfinite(t) and math.isfinite(x)]
    t = [p[0] for p in pairs]
    x = [p[1] for p in pairs]
    if len(x) >= 3:
        padded = [x[0], *x, x[-1]]
        x = [sorted(padded[i : i + 3])[1] for i in range(len(x))]
    found: list[Fixation] = []
    start = 0
    total = 0.0
    for i in range(len(x) + 1):
        if i < len(x) and i > start:
            mean = total / (i - start)
            if abs(x[i] - mean) <= params.fixation_radius:
                total += x[i]
                continue
        if i > start:
            _close_group(t[start:i], x[start:i], params, found)
        if i < len(x):
            start, total = i, x[i]
    return found


def _slope(t: Sequence[float], x: Sequence[float]) -> float:
    """The least-squares slope of x over t (np.polyfit's degree-1 coefficient, without its cost per call)."""
    t_mean = sum(t) / len(t)
    x_mean = sum(x) / len(x)
    denominator = sum((ti - t_mean) ** 2 for ti in t)
    numerator = sum((ti - t_mean) * (xi - x_mean) for ti, xi in zip(t, x, strict=True))
    return numerator / denominator if denominator > 0 else 0.0


def _close_group(t: Sequence[float], x: Sequence[float], params: ReadingParams, found: list[Fixation]) -> None:
    duration = t[-1] - t[0]
    if duration < params.min_fixation_s:
        return
    drift = abs(_slope(t, x)) if len(x) >= 3 else 0.0
    if drift > params.max_fixation_drift:
        return
    found.append(Fixation(start_s=t[0], end_s=t[-1], x=sum(x) / len(x)))


def steps(found: Sequence[Fixation], params: ReadingParams = DEFAULT_PARAMS) -> list[tuple[Step, float]]:
    """Each step between consecutive fixations, with its size in screen widths (step 3)."""
    result = []
    for before, after in itertools.pairwise(found):
        dx = after.x - before.x
        if after.start_s - before.end_s > params.max_gap_s:
            kind = Step.OTHER
        elif params.min_step <= dx <= params.max_step:
            kind = Step.FORWARD
        elif dx <= -params.min_return:
            kind = Step.RETURN
        elif -params.min_return < dx < params.min_step:
            kind = Step.REGRESSION  # short leftward (or too small to be a saccade): neutral in reading
        else:
            kind = Step.OTHER
        result.append((kind, dx))
    return result


def classify(
    times: Sequence[float] | Samples, xs: Sequence[float] | Samples, params: ReadingParams = DEFAULT_PARAMS
) -> ReadingVerdict:
    """Is this window of gaze samples reading? (step 4 of the module docstring)."""
    found = fixations(times, xs, params)
    moves = steps(found, params)
    lines = 0
    forward_run = 0
    progress = 0.0
    for kind, dx in moves:
        if kind is Step.FORWARD:
            forward_run += 1
            progress += dx
        elif kind is Step.REGRESSION:
            progress += dx
        elif kind is Step.RETURN:
            if forward_run >= params.min_steps_per_line and -dx >= 0.5 * progress:
                lines += 1
            forward_run, progress = 0, 0.0
        else:
            forward_run, progress = 0, 0.0
    reading_like = sum(1 for kind, _ in moves if kind is not Step.OTHER)
    share = reading_like / len(moves) if moves else 0.0
    return ReadingVerdict(
        reading=lines >= params.min_lines and share >= params.min_reading_share,
        lines=lines,
        fixations=len(found),
        reading_share=share,
    )


class ReadingChange(enum.StrEnum):
    STARTED = "started"
    ENDED = "ended"


class ReadingMonitor:
    """Per-viewer sliding-window reading detector with hysteresis: `update` returns a change, or None."""

    def __init__(self, params: ReadingParams = DEFAULT_PARAMS) -> None:
        self._params = params
        self._samples: collections.deque[tuple[float, float]] = collections.deque()
        self._reading = False
        self._last_positive: float | None = None
        self._last_check: float | None = None

    @property
    def reading(self) -> bool:
        return self._reading

    def update(self, t: float, gaze_x: float | None) -> ReadingChange | None:
        """One gaze sample (None or NaN when no gaze was measured this frame)."""
        self._samples.append((t, math.nan if gaze_x is None else gaze_x))
        while self._samples and t - self._samples[0][0] > self._params.window_s:
            self._samples.popleft()
        if self._last_check is not None and t - self._last_check < self._params.check_interval_s:
            return None
        self._last_check = t
        times, xs = zip(*self._samples, strict=True)
        verdict = classify(times, xs, self._params)
        if verdict.reading:
            self._last_positive = t
            if not self._reading:
                self._reading = True
                return ReadingChange.STARTED
        elif self._reading and self._last_positive is not None and t - self._last_positive >= self._params.release_s:
            self._reading = False
            return ReadingChange.ENDED
        return None
