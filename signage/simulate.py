"""`signage simulate`: run one policy on the virtual store for days, headless and as fast as possible.

It runs the real engine (audience stage, decisions, store) with no display on a database (a temporary one unless
given), then reads the attention report back, so the numbers are the ones `signage report` would print. The policy
is wrapped to time every select and learn and to record when each reward arrived and how many decisions the
decider had made by then, whichever arm made them (for learning curves; the control arm, the exploration floor and
the fallback decide without the policy's select, so its calls would undercount every policy but round-robin).

`oracle` is an extra policy here only: it sees the shoppers in view and their hidden appeal for each item (tastes,
drift and worn-off novelty) and picks the item with the most expected attention over its play: each shopper's chance
to notice it while it shows (`VirtualStore.notice_within`) times their expected watch once noticed. It is the
reference the benchmark measures the others against; no real screen can run it. It is greedy per decision, so a
policy can still beat it now and then. (It used to weigh motion as three times the attention, as if noticing never
saturated: over an 8 s item a moving one is noticed by 85% of the viewers free to notice, a still one by 47%. So it
showed moving items where a still one was worth more; weighing the chance instead earned 5.2 / 2.2 / -1.5 / 3.7%
more attention per passer-by, 3 simulated days, 12 items, seeds 11-14, and every figure "% of the oracle" fell.)
`typical_oracle` knows the same except each shopper's own taste: it weighs the mean taste of their true age band and
gender (with the drift, and what they already watched). What it misses of the oracle is what no feature of the
people in view can say (individual taste, personal likes); what a policy misses of it is what it has not learned, or
cannot see, of demographics, groups and wear.

Start: each run starts at the store's opening, `OPENING_LOCAL_TIME` (08:00 local, where the arrival profile of
`signage.sim.arrivals` rises from its night level), on a Monday, and runs `days` × 24 h from there: every simulated
day still covers every hour, but a learner's first decisions meet the morning's shoppers instead of seven hours of
an empty aisle at night (which made "decisions until x% of the oracle" mostly count empty-aisle decisions).
`start_local_time` moves it (for example to sim.start_local_time). Decisions are also counted apart when somebody
was in front of the screen (`decisions_with_people`; each reward records both counts), so learning curves can be
read in decisions that could have earned anything.

Speed: with 0.1 s ticks a busy simulated day takes about 30-40 s of one core; `tick_s` can be raised (0.2 s keeps
the audience definitions measurable: a watcher needs 1 s of facing, a hold 3 s).
"""

from __future__ import annotations

import math
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from signage.clock import SimClock
from signage.config import Config
from signage.content import ContentPool
from signage.decision import Decider
from signage.decision.decider import probabilities_by_id, probability_of
from signage.decision.policies import POLICY_NAMES, build_policy
from signage.decision.policy import Policy
from signage.engine import Engine
from signage.player import InstantScreen
from signage.report import Report, build_report
from signage.sim import VirtualStore
from signage.sim.arrivals import OPENING_HOUR
from signage.store import StoreWriter
from signage.types import ContentItem, Context, Decision

SIMULATION_POLICIES: tuple[str, ...] = (*POLICY_NAMES, "oracle", "typical_oracle")
START_DATE = date(2026, 3, 2)  # a Monday, so a week of simulated days covers every weekday
OPENING_LOCAL_TIME = f"{OPENING_HOUR:02d}:00"  # when a simulated run starts, store-local time


STORE_STALL_S = 30.0  # a run fails only when its store commits nothing for this long, however far behind it is


class SimulationError(Exception):
    """A simulated run that cannot be reported truthfully (its store stopped writing)."""


class OraclePolicy:
    """Knows the simulator's hidden appeal of every item to every shopper in view; picks the best. Not deployable."""

    name = "oracle"
    version = "1"

    def __init__(self, *, store: VirtualStore, typical: bool = False) -> None:
        self._store = store
        self._watch_s = store.typical_expected_watch_s if typical else store.expected_watch_s
        if typical:
            self.name = "typical_oracle"

    def _expected(self, shoppers: Sequence[int], item: ContentItem) -> float:
        """Expected attention over the item's play: the chance each shopper notices it while it shows (motion
        raises the hazard; the chance saturates) times their expected watch once noticed."""
        return self._store.notice_within(item, item.duration_s) * sum(self._watch_s(s, item) for s in shoppers)

    def _best(self, eligible: Sequence[ContentItem]) -> tuple[int, int]:
        shoppers = self._store.present_shopper_ids()
        scores = [self._expected(shoppers, item) if shoppers else (2.0 if item.motion else 1.0) for item in eligible]
        return max(range(len(eligible)), key=lambda i: scores[i]), len(shoppers)

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> list[float]:
        """Deterministic: 1 for its pick (asked directly, so the decider never deep-copies the store to probe)."""
        best, _ = self._best(eligible)
        return [1.0 if i == best else 0.0 for i in range(len(eligible))]

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        best, present = self._best(eligible)
        return Decision(eligible[best].item_id, 1.0, f"oracle: {present} shopper(s) in view")

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """The oracle knows already."""


class _Timed:
    """Forwards to a policy, timing each call and recording when rewards arrived (simulated seconds)."""

    def __init__(self, policy: Policy, clock: SimClock) -> None:
        self.policy = policy
        self.name = policy.name
        self.version = policy.version
        self._clock = clock
        self.select_s: list[float] = []
        self.learn_s: list[float] = []
        self._decider: Decider | None = None
        # (t, decisions so far, decisions with people so far, reward)
        self.rewards: list[tuple[float, int, int, float]] = []

    def count_decisions_of(self, decider: Decider) -> None:
        """Count decisions as the decider makes them (every arm), not as this policy is asked."""
        self._decider = decider

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        start = time.perf_counter()
        decision = self.policy.select(context, eligible)
        self.select_s.append(time.perf_counter() - start)
        return decision

    def probabilities(self, context: Context, eligible: Sequence[ContentItem]) -> Mapping[str, float]:
        """The wrapped policy's choice probabilities, so the decider can log true propensities when it mixes in
        the control arm or the exploration floor."""
        by_id = probabilities_by_id(self.policy, context, eligible)  # one call for all items, not one per item
        if by_id is not None:
            return by_id
        return {item.item_id: probability_of(self.policy, context, eligible, item.item_id) or 0.0 for item in eligible}

    def know(self, items: Sequence[ContentItem]) -> None:
        """Hand the pool to the wrapped policy as the engine does (see `Decider`), when it reads item features."""
        know = getattr(self.policy, "know", None)
        if callable(know):
            know(items)

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        start = time.perf_counter()
        self.policy.learn(context, item_id, reward)
        self.learn_s.append(time.perf_counter() - start)
        made, with_people = (
            (self._decider.decisions_made, self._decider.decisions_with_people) if self._decider else (0, 0)
        )
        self.rewards.append((self._clock.monotonic(), made, with_people, reward))


def _hh_mm(text: str) -> tuple[int, int]:
    hour, _, minute = text.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"start_local_time must be HH:MM (00:00-23:59), got {text!r}")
    return int(hour), int(minute)


def _quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class SimulationResult:
    policy: str
    seed: int
    days: float
    decisions: int
    rewards_learned: int
    decisions_with_people: int
    passers_by: int
    watchers: int
    held_watchers: int
    attention_s: float
    select_us_p50: float
    select_us_p99: float
    learn_us_p50: float
    learn_us_p99: float
    real_seconds: float
    start_local_time: str = OPENING_LOCAL_TIME
    # (simulated seconds since start, decisions so far, decisions with people so far, reward) of each reward
    # delivered to the policy
    rewards: tuple[tuple[float, int, int, float], ...] = field(repr=False, default=())

    @property
    def notice_rate(self) -> float:
        return self.watchers / self.passers_by if self.passers_by else 0.0

    @property
    def hold_rate(self) -> float:
        return self.held_watchers / self.watchers if self.watchers else 0.0

    @property
    def attention_per_viewer_s(self) -> float:
        """Attention seconds per passer-by (opportunity to see)."""
        return self.attention_s / self.passers_by if self.passers_by else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "seed": self.seed,
            "days": self.days,
            "decisions": self.decisions,
            "rewards_learned": self.rewards_learned,
            "decisions_with_people": self.decisions_with_people,
            "passers_by": self.passers_by,
            "watchers": self.watchers,
            "held_watchers": self.held_watchers,
            "attention_s": self.attention_s,
            "notice_rate": self.notice_rate,
            "hold_rate": self.hold_rate,
            "attention_per_viewer_s": self.attention_per_viewer_s,
            "select_us_p50": self.select_us_p50,
            "select_us_p99": self.select_us_p99,
            "learn_us_p50": self.learn_us_p50,
            "learn_us_p99": self.learn_us_p99,
            "real_seconds": self.real_seconds,
            "start_local_time": self.start_local_time,
        }


def simulate(
    config: Config,
    pool: ContentPool,
    *,
    policy: str,
    days: float,
    seed: int | None = None,
    db_path: Path | None = None,
    tick_s: float | None = None,
    make_policy: Callable[[VirtualStore], Policy] | None = None,
    start_local_time: str = OPENING_LOCAL_TIME,
) -> SimulationResult:
    """Run `policy` on the virtual store (seed: `seed`, else sim.seed) for `days` simulated days, from
    `start_local_time` (HH:MM, store-local; default the store's opening) on START_DATE.

    `make_policy` (for benchmarks) builds the policy instead, given the store; `policy` then only names the run."""
    if make_policy is None and policy not in SIMULATION_POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(SIMULATION_POLICIES)}")
    if not (math.isfinite(days) and days > 0):
        raise ValueError(f"days must be a number > 0, got {days}")
    sim_config = config.sim if seed is None else config.sim.model_copy(update={"seed": seed})
    tick = tick_s or sim_config.tick_s
    zone = zoneinfo.ZoneInfo(config.screen.timezone)
    hour, minute = _hh_mm(start_local_time)
    start = datetime(START_DATE.year, START_DATE.month, START_DATE.day, hour, minute, tzinfo=zone).astimezone(UTC)
    clock = SimClock(start_utc=start)
    store_sim = VirtualStore(
        sim_config,
        start_utc=start,
        timezone=config.screen.timezone,
        items=pool.items,
        reid_ttl_s=config.perception.reid_ttl_s,
    )
    chosen: Policy
    if make_policy is not None:
        chosen = make_policy(store_sim)
    elif policy in ("oracle", "typical_oracle"):
        chosen = OraclePolicy(store=store_sim, typical=policy == "typical_oracle")
    else:
        chosen = build_policy(policy, items=pool.rotation, config=config.decision, seed=sim_config.seed)
    timed = _Timed(chosen, clock)
    decider = Decider(
        timed,
        pool.rotation,
        timezone=config.screen.timezone,
        fallback_item=config.decision.fallback_item,
        rules=config.rules,
        seed=sim_config.seed,
        wear_memory=timedelta(hours=config.decision.learner_wear_memory_h),
        item_rules=pool.item_rules,
        detail_items=pool.detail_items,
    )
    timed.count_decisions_of(decider)
    with tempfile.TemporaryDirectory(prefix="signage-simulate-") as scratch:
        path = db_path or Path(scratch) / "simulate.db"
        writer = StoreWriter(config.store, path=path).start()
        engine = Engine(
            config,
            source=store_sim,
            pool=pool,
            decider=decider,
            store=writer,
            clock=clock,
            screen=InstantScreen(min_display_s=config.player.min_display_s),
            mode="simulate",
        )
        try:
            summary = engine.run_simulated(days * 86400.0, tick_s=tick, speed=0.0, frame_interval_s=1.0)
            # Simulated days outrun the writer thread: the report below must read every row the run made.
            drained = writer.drain(STORE_STALL_S)
            health = writer.health()
        finally:
            writer.close()
        if not drained:
            raise SimulationError(
                f"the store stopped writing to {path} with {health.backlog_rows} rows waiting"
                f" ({health.error or f'none committed in {STORE_STALL_S:g} s'}); a report would miss them"
            )
        report: Report = build_report(path, session_id=summary.session_id)
    return SimulationResult(
        policy=policy,
        seed=sim_config.seed,
        days=days,
        decisions=report.decisions,
        rewards_learned=len(timed.rewards),
        decisions_with_people=decider.decisions_with_people,
        passers_by=report.passers_by,
        watchers=report.watchers,
        held_watchers=report.held_watchers,
        attention_s=report.attention_s,
        select_us_p50=_quantile(timed.select_s, 0.5) * 1e6,
        select_us_p99=_quantile(timed.select_s, 0.99) * 1e6,
        learn_us_p50=_quantile(timed.learn_s, 0.5) * 1e6,
        learn_us_p99=_quantile(timed.learn_s, 0.99) * 1e6,
        real_seconds=summary.real_seconds,
        start_local_time=start_local_time,
        rewards=tuple(timed.rewards),
    )


def format_result(result: SimulationResult) -> str:
    return "\n".join(
        [
            f"signage simulate: policy {result.policy}, {result.days:g} day(s) from {result.start_local_time} local, "
            f"seed {result.seed}, "
            f"{result.real_seconds:.1f} s",
            f"  decisions           {result.decisions}   with people in view {result.decisions_with_people}   "
            f"rewards learned {result.rewards_learned}",
            f"  passers-by (OTS)    {result.passers_by}",
            f"  watchers            {result.watchers}",
            f"  notice rate         {result.notice_rate:.1%}   watchers / passers-by",
            f"  hold rate           {result.hold_rate:.1%}   watchers held on one item / watchers",
            f"  attention / viewer  {result.attention_per_viewer_s:.2f} s   attention s / passers-by",
            f"  select+learn        p50 {result.select_us_p50 + result.learn_us_p50:.0f} us, "
            f"p99 select {result.select_us_p99:.0f} us, learn {result.learn_us_p99:.0f} us",
        ]
    )
