"""The attention report, read back from a database: what advertisers and operators look at first.

Rates carry 95% Wilson score intervals, which stay inside [0, 1] and behave on small counts.

Uplift against the control arm: the unit is the exposure of a watcher (a viewer who faced the screen for a second at
some point) to one play; an exposure is *held* when its attention on that item reached the hold threshold. Each
exposure belongs to the arm of the decision that put its item on screen ("control": the plain playlist's share of
decisions, "learner": the policy). An arm's hold rate is held / watched exposures (attention > 0) with its Wilson
interval; the uplift is learner minus control with Newcombe's hybrid score interval (method 10), which stays sensible
on small counts. Interactive detail pages (arm "rule") are in neither arm. Exposures of one viewer are not
independent, so the intervals are somewhat narrow when viewers stay long; a run of the plain playlist alone on the
same shoppers (`signage simulate --policy round_robin`) reads the same way, and its rate is what the control arm's
estimates.

Reaction to content, per item, over closed exposures (docs/metrics.md): the mean change of the viewer's attention
share from the window before the item started to the window after it (in points, over the exposures whose viewer was
seen in both), and the mean mood shift after - before on the scale negative -1, neutral 0, positive +1 (over the
exposures with a known mood in both), each with its count. Direction of movement: passers-by by the way they moved
for most of their visit, when the database logs it (viewers.direction, schema version 4).
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from signage.decision.history import CONTROL, LEARNER


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def __str__(self) -> str:
        if not self.denominator:
            return "n/a (no data)"
        return f"{100 * self.numerator / self.denominator:5.1f}%  [{100 * self.low:.1f}-{100 * self.high:.1f}]"


def wilson(successes: int, trials: int, z: float = 1.96) -> Rate:
    if trials <= 0:
        return Rate(successes, trials, 0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return Rate(successes, trials, max(0.0, centre - half), min(1.0, centre + half))


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


def newcombe(first: Rate, second: Rate) -> tuple[float, float, float] | None:
    """first - second with its 95% interval from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p2 = first.value, second.value
    if p1 is None or p2 is None:
        return None
    difference = p1 - p2
    low = difference - math.hypot(p1 - first.low, second.high - p2)
    high = difference + math.hypot(first.high - p1, p2 - second.low)
    return difference, max(-1.0, low), min(1.0, high)


@dataclass(frozen=True)
class ItemLine:
    item_id: str
    plays: int
    seconds_on_screen: float
    exposures: int
    watchers: int
    attention_s: float
    held: int
    # Reaction to content: exposures seen before and after the start, and their mean change of attention share
    # (after - before, 0..1 shares); exposures with a known mood before and after, and their mean mood shift.
    reaction_exposures: int = 0
    attention_share_change: float | None = None
    mood_exposures: int = 0
    mood_shift: float | None = None

    @property
    def hold_rate(self) -> Rate:
        return wilson(self.held, self.watchers)


@dataclass(frozen=True)
class Report:
    database: str
    sessions: int
    decisions: int
    plays: int
    open_rows: int
    viewers: int
    passers_by: int
    watchers: int
    held_watchers: int
    attention_s: float
    dwell_s: float
    items: tuple[ItemLine, ...]
    arm_hold: tuple[tuple[str, Rate], ...] = ()  # hold rate of watched exposures per decision arm
    directions: tuple[tuple[str, int], ...] = ()  # passers-by per direction of movement (empty: not logged)

    @property
    def notice_rate(self) -> Rate:
        return wilson(self.watchers, self.passers_by)

    @property
    def hold_rate(self) -> Rate:
        return wilson(self.held_watchers, self.watchers)

    @property
    def uplift(self) -> Uplift:
        """The learner's hold rate over the control arm's, with its interval."""
        rates = dict(self.arm_hold)
        learner, control = rates.get(LEARNER, wilson(0, 0)), rates.get(CONTROL, wilson(0, 0))
        estimate = newcombe(learner, control)
        if estimate is None:
            return Uplift(learner, control, None, None, None)
        return Uplift(learner, control, *estimate)

    @property
    def attraction_ratio(self) -> float | None:
        return self.attention_s / self.dwell_s if self.dwell_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["notice_rate"] = asdict(self.notice_rate) | {"value": self.notice_rate.value}
        data["hold_rate"] = asdict(self.hold_rate) | {"value": self.hold_rate.value}
        data["attraction_ratio"] = self.attraction_ratio
        data["arm_hold"] = {arm: asdict(rate) | {"value": rate.value} for arm, rate in self.arm_hold}
        uplift = self.uplift
        data["uplift"] = {"difference": uplift.difference, "low": uplift.low, "high": uplift.high}
        return data


class ReportError(Exception):
    pass


def _scalar(db: sqlite_utils.Database, sql: str, session_id: str | None) -> Any:
    return db.execute(sql, {"session": session_id}).fetchone()[0]


_IN_SESSION = "(:session IS NULL OR session_id = :session)"


def build_report(path: str | Path, *, session_id: str | None = None) -> Report:
    """Read the metrics from a signage database (read-only; safe while the engine is writing).

    With `session_id`, only that engine session counts; otherwise every session in the file."""
    if not Path(path).is_file():
        raise ReportError(f"no database at {path}")
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        db = sqlite_utils.Database(conn)
        if "plays" not in db.table_names():
            raise ReportError(f"{path} is not a signage database (no plays table)")
        return _read(db, str(path), session_id)
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"cannot read {path}: {exc}") from exc


def _read(db: sqlite_utils.Database, name: str, session_id: str | None) -> Report:
    s = _IN_SESSION
    item_rows = db.execute(
        f"""
        WITH p AS (
          SELECT item_id, COUNT(*) AS plays, SUM(COALESCE(ended_mono - started_mono, 0)) AS secs
          FROM plays WHERE {s} GROUP BY item_id
        ), e AS (
          SELECT x.item_id, COUNT(*) AS exposures,
                 COUNT(DISTINCT CASE WHEN v.is_watcher = 1 AND x.attention_s > 0 THEN x.viewer_id END) AS watchers,
                 SUM(x.attention_s) AS attention,
                 COUNT(DISTINCT CASE WHEN v.is_watcher = 1 AND x.held = 1 THEN x.viewer_id END) AS held
          FROM exposures x JOIN viewers v ON v.id = x.viewer_id
          WHERE (:session IS NULL OR x.session_id = :session)
          GROUP BY x.item_id
        )
        SELECT p.item_id, p.plays, p.secs, COALESCE(e.exposures, 0), COALESCE(e.watchers, 0),
               COALESCE(e.attention, 0), COALESCE(e.held, 0)
        FROM p LEFT JOIN e ON e.item_id = p.item_id
        ORDER BY p.item_id
        """,
        {"session": session_id},
    ).fetchall()
    reactions = _reactions(db, session_id)
    items = tuple(
        ItemLine(
            item_id,
            plays,
            float(secs or 0),
            exposures,
            watchers,
            float(attention),
            held,
            *reactions.get(item_id, (0, None, 0, None)),
        )
        for item_id, plays, secs, exposures, watchers, attention, held in item_rows
    )
    open_rows = sum(
        _scalar(db, f"SELECT COUNT(*) FROM {t} WHERE status = 'open' AND {s}", session_id)
        for t in ("plays", "viewers", "exposures")
    )
    arm_rows = db.execute(
        "SELECT d.arm, COUNT(*), SUM(x.held) FROM exposures x "
        "JOIN decisions d ON d.id = x.decision_id JOIN viewers v ON v.id = x.viewer_id "
        "WHERE v.is_watcher = 1 AND x.attention_s > 0 AND (:session IS NULL OR x.session_id = :session) "
        "GROUP BY d.arm ORDER BY d.arm",
        {"session": session_id},
    ).fetchall()
    return Report(
        database=name,
        sessions=_scalar(db, "SELECT COUNT(*) FROM sessions WHERE (:session IS NULL OR id = :session)", session_id),
        decisions=_scalar(db, f"SELECT COUNT(*) FROM decisions WHERE {s}", session_id),
        plays=_scalar(db, f"SELECT COUNT(*) FROM plays WHERE {s}", session_id),
        open_rows=open_rows,
        viewers=_scalar(db, f"SELECT COUNT(*) FROM viewers WHERE {s}", session_id),
        passers_by=_scalar(db, f"SELECT COUNT(*) FROM viewers WHERE is_passer_by = 1 AND {s}", session_id),
        watchers=_scalar(db, f"SELECT COUNT(*) FROM viewers WHERE is_watcher = 1 AND {s}", session_id),
        held_watchers=_scalar(
            db,
            "SELECT COUNT(DISTINCT v.id) FROM viewers v JOIN exposures x ON x.viewer_id = v.id "
            "WHERE v.is_watcher = 1 AND x.held = 1 AND (:session IS NULL OR v.session_id = :session)",
            session_id,
        ),
        attention_s=float(
            _scalar(db, f"SELECT COALESCE(SUM(attention_s), 0) FROM viewers WHERE is_passer_by = 1 AND {s}", session_id)
        ),
        dwell_s=float(
            _scalar(db, f"SELECT COALESCE(SUM(dwell_s), 0) FROM viewers WHERE is_passer_by = 1 AND {s}", session_id)
        ),
        items=items,
        arm_hold=tuple((str(arm), wilson(int(held or 0), int(watched))) for arm, watched, held in arm_rows),
        directions=_directions(db, session_id),
    )


_MOOD_SCORE = "CASE {} WHEN 'positive' THEN 1.0 WHEN 'neutral' THEN 0.0 WHEN 'negative' THEN -1.0 END"
_BOTH_SHARES = "attention_share_before IS NOT NULL AND attention_share_after IS NOT NULL"
_BOTH_MOODS = f"{_MOOD_SCORE.format('mood_before')} IS NOT NULL AND {_MOOD_SCORE.format('mood_after')} IS NOT NULL"
_REACTION_SQL = f"""
    SELECT item_id,
           COUNT(CASE WHEN {_BOTH_SHARES} THEN 1 END),
           AVG(CASE WHEN {_BOTH_SHARES} THEN attention_share_after - attention_share_before END),
           COUNT(CASE WHEN {_BOTH_MOODS} THEN 1 END),
           AVG(CASE WHEN {_BOTH_MOODS} THEN {_MOOD_SCORE.format("mood_after")} - {_MOOD_SCORE.format("mood_before")}
               END)
    FROM exposures WHERE status != 'open' AND {_IN_SESSION}
    GROUP BY item_id
"""


def _reactions(db: sqlite_utils.Database, session_id: str | None) -> dict[str, tuple[Any, ...]]:
    """Item -> (exposures with both shares, mean share change, exposures with both moods, mean mood shift); empty
    for a database written before reactions were logged (schema version 3): the report never migrates a database."""
    if "attention_share_before" not in {column.name for column in db["exposures"].columns}:
        return {}
    return {row[0]: tuple(row[1:]) for row in db.execute(_REACTION_SQL, {"session": session_id}).fetchall()}


def _directions(db: sqlite_utils.Database, session_id: str | None) -> tuple[tuple[str, int], ...]:
    """Passers-by per direction of movement, most first; empty when the database does not log directions."""
    if "direction" not in {column.name for column in db["viewers"].columns}:
        return ()
    counts = db.execute(
        f"SELECT direction, COUNT(*) FROM viewers WHERE is_passer_by = 1 AND {_IN_SESSION} "
        "GROUP BY direction ORDER BY COUNT(*) DESC, direction",
        {"session": session_id},
    ).fetchall()
    if all(direction == "unknown" for direction, _ in counts):
        return ()
    return tuple((str(direction), int(n)) for direction, n in counts)


def format_report(report: Report) -> str:
    ratio = report.attraction_ratio
    lines = [
        f"signage report: {report.database}",
        f"  sessions {report.sessions}   decisions {report.decisions}   plays {report.plays}"
        + (f"   open rows {report.open_rows}" if report.open_rows else ""),
        f"  passers-by (OTS)  {report.passers_by:7d}      (tracked people: {report.viewers})",
        f"  watchers          {report.watchers:7d}",
        f"  notice rate       {report.notice_rate}   watchers / passers-by, 95% interval",
        f"  hold rate         {report.hold_rate}   watchers held on one item / watchers",
        f"  attention         {report.attention_s:9.1f} s of {report.dwell_s:.1f} s dwell"
        + (f"   (attraction ratio {ratio:.3f})" if ratio is not None else ""),
        f"  uplift vs control {report.uplift}",
        "",
        f"  {'item':<18} {'plays':>6} {'on screen s':>12} {'exposures':>10} {'watchers':>9} "
        f"{'attention s':>12} {'held':>5}  hold rate",
    ]
    for item in report.items:
        lines.append(
            f"  {item.item_id:<18} {item.plays:>6} {item.seconds_on_screen:>12.1f} {item.exposures:>10} "
            f"{item.watchers:>9} {item.attention_s:>12.1f} {item.held:>5}  {item.hold_rate}"
        )
    lines += [
        "",
        "  reaction to content: the span after each start against the same span before it",
        f"  {'item':<18} {'exposures':>10} {'attention share':>16} {'with mood':>10} {'mood shift':>11}",
    ]
    for item in report.items:
        if not item.reaction_exposures and not item.mood_exposures:
            continue
        change = "-" if item.attention_share_change is None else f"{100 * item.attention_share_change:+.1f} pts"
        shift = "-" if item.mood_shift is None else f"{item.mood_shift:+.2f}"
        lines.append(
            f"  {item.item_id:<18} {item.reaction_exposures:>10} {change:>16} {item.mood_exposures:>10} {shift:>11}"
        )
    lines.append("  (mood shift: after - before on negative -1, neutral 0, positive +1)")
    lines.append("")
    if report.directions:
        total = sum(n for _, n in report.directions)
        shares = ", ".join(f"{direction} {n} ({100 * n / total:.0f}%)" for direction, n in report.directions)
        lines.append(f"  direction of passers-by: {shares}")
    else:
        lines.append("  direction of passers-by: not logged")
    return "\n".join(lines)


def arm_hold_rates(path: str | Path, *, session_id: str | None = None) -> dict[str, Rate]:
    """Hold rate of watched exposures per decision arm (every arm found in the log)."""
    return dict(build_report(path, session_id=session_id).arm_hold)


def uplift(path: str | Path, *, session_id: str | None = None) -> Uplift:
    """The learner's uplift over the control arm in a database."""
    return build_report(path, session_id=session_id).uplift
