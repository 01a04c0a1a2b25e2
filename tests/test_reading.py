"""Reading detection on labelled synthetic gaze traces: reading vs scanning, fixating, pursuit and noise.

The generator is seeded: every run sees the same traces, so the recall and false-positive figures are exact and a
regression fails, never flakes. Traces are horizontal gaze in screen widths, sampled at a webcam-like 15 or 30 Hz,
with measurement noise, lost samples (NaN) and single-sample spikes.
"""

from __future__ import annotations

import enum

import numpy as np
import pytest

from signage.audience.reading import (
    DEFAULT_PARAMS,
    ReadingChange,
    ReadingMonitor,
    ReadingParams,
    Step,
    classify,
    fixations,
    params_from_config,
    steps,
)
from signage.config import AudienceConfig, ConfigError, parse_config

TRACES_PER_KIND = 60


class Kind(enum.StrEnum):
    READING = "reading"
    SCANNING = "scanning"
    SHELF_SCAN = "shelf_scan"  # looking along the screen left to right in big jumps
    FIXATING = "fixating"
    PURSUIT = "pursuit"  # following moving content, back and forth
    NOISE = "noise"


def _fixation_path(rng: np.random.Generator, targets: list[float], durations: list[float]) -> list[tuple[float, float]]:
    """(time, x) breakpoints: hold each target for its duration, with 30 ms saccades between."""
    path, t = [], 0.0
    for x, d in zip(targets, durations, strict=True):
        path += [(t, x), (t + d, x)]
        t += d + 0.03
    return path


def _sample(
    rng: np.random.Generator, path: list[tuple[float, float]], rate: float, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(0.0, path[-1][0], 1.0 / rate)
    xs = np.interp(times, [p[0] for p in path], [p[1] for p in path])
    xs = xs + rng.normal(0, noise, len(xs))
    spikes = rng.random(len(xs)) < 0.02
    xs[spikes] += rng.normal(0, 0.3, spikes.sum())
    xs[rng.random(len(xs)) < 0.05] = np.nan
    return times, xs


def trace(kind: Kind, rng: np.random.Generator, duration_s: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    rate = float(rng.choice([15.0, 30.0]))
    noise = float(rng.uniform(0.003, 0.012))
    targets: list[float] = []
    durations: list[float] = []
    if kind is Kind.READING:
        while sum(durations) < duration_s:
            left = rng.uniform(0.1, 0.3)
            width = rng.uniform(0.3, 0.6)
            x = left
            while x < left + width:
                targets.append(x)
                durations.append(rng.uniform(0.18, 0.35))
                x += rng.uniform(0.04, 0.1)
                if rng.random() < 0.1:  # a regression: back one word
                    x -= rng.uniform(0.03, 0.06)
    elif kind is Kind.SCANNING:
        while sum(durations) < duration_s:
            targets.append(rng.uniform(0.0, 1.0))
            durations.append(rng.uniform(0.2, 0.6))
    elif kind is Kind.SHELF_SCAN:
        x = rng.uniform(0.0, 0.2)
        while sum(durations) < duration_s:
            targets.append(x)
            durations.append(rng.uniform(0.25, 0.6))
            x += rng.uniform(0.2, 0.35)
            if x > 1.0:
                x = rng.uniform(0.0, 0.2)
    elif kind is Kind.FIXATING:
        while sum(durations) < duration_s:
            targets.append(rng.uniform(0.2, 0.8) if not targets else targets[-1] + rng.normal(0, 0.008))
            durations.append(rng.uniform(0.8, 2.5))
    if targets:
        return _sample(rng, _fixation_path(rng, targets, durations), rate, noise)
    if kind is Kind.PURSUIT:
        path, t, x = [], 0.0, rng.uniform(0.0, 0.3)
        while t < duration_s:
            span = rng.uniform(0.3, 0.7)
            speed = rng.uniform(0.2, 0.5)
            path += [(t, x), (t + span / speed, x + span)]
            t += span / speed + 0.03
            x = rng.uniform(0.0, 0.3)
        return _sample(rng, path, rate, noise)
    # NOISE: a gaze estimate that has lost the eyes and wanders
    times = np.arange(0.0, duration_s, 1.0 / rate)
    xs = np.clip(0.5 + np.cumsum(rng.normal(0, 0.04, len(times))), 0, 1)
    return times, xs


def _labelled(seed: int) -> list[tuple[Kind, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(kind, *trace(kind, rng)) for kind in Kind for _ in range(TRACES_PER_KIND)]


def _rates(seed: int, params: ReadingParams = DEFAULT_PARAMS) -> tuple[float, dict[Kind, float]]:
    verdicts = [(kind, classify(t, x, params).reading) for kind, t, x in _labelled(seed)]
    recall = np.mean([r for k, r in verdicts if k is Kind.READING])
    false_positive = {
        kind: float(np.mean([r for k, r in verdicts if k is kind])) for kind in Kind if kind is not Kind.READING
    }
    return float(recall), false_positive


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recall_and_false_positives_on_labelled_traces(seed: int) -> None:
    recall, false_positive = _rates(seed)
    assert recall >= 0.90, recall
    overall = float(np.mean(list(false_positive.values())))
    assert overall <= 0.05, false_positive
    assert all(rate <= 0.10 for rate in false_positive.values()), false_positive


def two_lines() -> tuple[np.ndarray, np.ndarray]:
    """Two lines of five words read at 0.25 s per word (and the start of a third), 30 samples a second."""
    times = np.arange(0, 4.0, 1 / 30)
    words = [0.2, 0.28, 0.36, 0.44, 0.52] * 3
    return times, np.array([words[min(int(t / 0.25), len(words) - 1)] for t in times])


def test_a_clean_reading_trace_has_lines_and_fixations() -> None:
    times, xs = two_lines()
    found = fixations(times, xs)
    assert len(found) == 15
    kinds = [kind for kind, _ in steps(found)]
    assert kinds.count(Step.RETURN) == 2 and kinds.count(Step.FORWARD) == 12
    verdict = classify(times, xs)
    assert verdict.reading and verdict.lines == 2 and verdict.reading_share == 1.0


def test_empty_and_missing_gaze_is_not_reading() -> None:
    assert not classify([], []).reading
    assert not classify([0.0, 0.1, 0.2], [np.nan, np.nan, np.nan]).reading


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="min_step"):
        ReadingParams(min_step=0.3, max_step=0.2)


def test_monitor_reports_start_and_end_once() -> None:
    rng = np.random.default_rng(5)
    t_read, x_read = trace(Kind.READING, rng, duration_s=8.0)
    t_fix, x_fix = trace(Kind.FIXATING, rng, duration_s=8.0)
    monitor = ReadingMonitor()
    changes = []
    for t, x in zip(t_read, x_read, strict=True):
        change = monitor.update(float(t), float(x))
        if change:
            changes.append((change, t))
    offset = float(t_read[-1]) + 0.05
    for t, x in zip(t_fix, x_fix, strict=True):
        change = monitor.update(offset + float(t), None if np.isnan(x) else float(x))
        if change:
            changes.append((change, offset + t))
    assert [c for c, _ in changes] == [ReadingChange.STARTED, ReadingChange.ENDED]
    assert changes[0][1] < 5.0  # noticed within a few lines
    assert not monitor.reading


def _start_time(params: ReadingParams, t_read: np.ndarray, x_read: np.ndarray) -> tuple[float, int]:
    """When the monitor reports reading, and how many samples were classified by then."""
    monitor = ReadingMonitor(params)
    classified = 0
    for t, x in zip(t_read, x_read, strict=True):
        before = monitor._last_check
        change = monitor.update(float(t), float(x))
        classified += monitor._last_check != before
        if change is ReadingChange.STARTED:
            return float(t), classified
    raise AssertionError("reading never reported")


def test_monitor_classifies_at_most_every_check_interval_and_reports_no_later_than_that() -> None:
    t_read, x_read = trace(Kind.READING, np.random.default_rng(5), duration_s=8.0)
    every_sample, all_checks = _start_time(ReadingParams(check_interval_s=0.0), t_read, x_read)
    throttled, few_checks = _start_time(DEFAULT_PARAMS, t_read, x_read)
    assert every_sample <= throttled <= every_sample + DEFAULT_PARAMS.check_interval_s + 0.05
    assert few_checks <= every_sample / DEFAULT_PARAMS.check_interval_s + 2
    assert few_checks < all_checks / 3  # traces are sampled at 15 or 30 Hz: every 4th or 8th sample


# -- the parameters as config ([audience] reading_* keys) ---------------------------------------------------------


def test_default_config_gives_the_default_params() -> None:
    assert params_from_config(AudienceConfig()) == DEFAULT_PARAMS


def test_config_keys_reach_the_detector() -> None:
    """Each key lands on its parameter; a stricter line count turns two read lines into 'not reading'."""
    config = AudienceConfig(reading_min_lines=3, reading_min_step=0.02, reading_window_s=9.0, reading_release_s=0.5)
    params = params_from_config(config)
    assert (params.min_lines, params.min_step, params.window_s, params.release_s) == (3, 0.02, 9.0, 0.5)
    times, xs = two_lines()
    assert classify(times, xs, params_from_config(AudienceConfig())).reading
    assert not classify(times, xs, params).reading


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ({"reading_min_step": 0.3, "reading_max_step": 0.2}, "reading_min_step (0.3) must be < reading_max_step"),
        ({"reading_min_lines": 0}, "greater than or equal to 1"),
        ({"reading_min_share": 1.5}, "less than or equal to 1"),
        ({"reading_typo": 1}, "unknown key"),
    ],
)
def test_bad_reading_keys_are_config_errors(keys: dict[str, object], reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"audience": keys})
    assert any(reason in str(problem) for problem in info.value.problems), info.value.problems
