"""Uplift against the control arm, read back from a signage database.

The unit is the exposure of a watcher (a viewer who faced the screen for a second at some point) to one play:
an exposure is *held* when its attention on that item reached the hold threshold. Each exposure belongs to the
arm of the decision that put its item on screen ("control": the plain playlist's share of decisions, "learner":
the policy). The arm's hold rate is held / watched exposures (attention > 0), with a 95% Wilson interval; the
uplift is learner minus control with Newcombe's hybrid score interval (method 10), which stays sensible on small
counts. Interactive detail pages (arm "rule") are in neither arm.

Exposures of one viewer are not independent, so the intervals are somewhat narrow when viewers stay long; a run
of the plain playlist alone on the same shoppers (`signage simulate --policy round_robin`) reads the same way, and
its rate is what the control arm's estimates.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from signage.decision.history import CONTROL, LEARNER
from signage.report import Rate, ReportError, wilson


@dataclass(frozen=True)
class Uplift:
    """Hold rates per arm and the learner's uplift over the control arm (None while an arm has no exposures)."""

    learner: Rate
    control: Rate
    difference: float | None
    low: float | None
    high: float | None

    def __str__(self) -> str:
        if self.difference is None or self.low is None or self.high is None:
            return f"learner {self.learner}, control {self.control}: uplift n/a"
        return (
            f"learner {self.learner}, control {self.control}: uplift {100 * self.difference:+.1f} points "
            f"[{100 * self.low:+.1f}, {100 * self.high:+.1f}]"
        )


def arm_hold_rates(path: str | Path, *, session_id: str | None = None) -> dict[str, Rate]:
    """Hold rate of watched exposures per decision arm (every arm found in the log)."""
    if not Path(path).is_file():
        raise ReportError(f"no database at {path}")
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT d.arm, COUNT(*), SUM(x.held) FROM exposures x "
            "JOIN decisions d ON d.id = x.decision_id JOIN viewers v ON v.id = x.viewer_id "
            "WHERE v.is_watcher = 1 AND x.attention_s > 0 AND (:session IS NULL OR x.session_id = :session) "
            "GROUP BY d.arm",
            {"session": session_id},
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"cannot read {path}: {exc}") from exc
    finally:
        conn.close()
    return {str(arm): wilson(int(held or 0), int(watched)) for arm, watched, held in rows}


def newcombe(first: Rate, second: Rate) -> tuple[float, float, float] | None:
    """first - second with its 95% interval from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p2 = first.value, second.value
    if p1 is None or p2 is None:
        return None
    difference = p1 - p2
    low = difference - math.hypot(p1 - first.low, second.high - p2)
    high = difference + math.hypot(first.high - p1, p2 - second.low)
    return difference, max(-1.0, low), min(1.0, high)


def uplift(path: str | Path, *, session_id: str | None = None) -> Uplift:
    rates = arm_hold_rates(path, session_id=session_id)
    none = wilson(0, 0)
    learner, control = rates.get(LEARNER, none), rates.get(CONTROL, none)
    estimate = newcombe(learner, control)
    if estimate is None:
        return Uplift(learner, control, None, None, None)
    return Uplift(learner, control, *estimate)
