"""The control arm is an unbiased stand-in for the plain playlist: on the same simulated shoppers, the hold rate of
a separate run of the playlist alone falls inside the control arm's interval, while the learner's uplift over the
control arm is reported; and every guaranteed share holds on the control arm's slots as on the whole screen.

On this simulator and configuration (the busiest half hour, control share 0.5, binding caps and shares), control
arm minus playlist run, hold rate, seeds 1-6 (2026-12-03, after the Decider drew apart from the policy and a watch
stopped being split into two exposures): +4.7 / +4.1 / +0.2 / -3.9 / -3.2 / -0.5 points (mean +0.2); the interval
of the difference (Newcombe, both runs' noise) holds zero on every seed. The playlist run's own rate fell inside the
control arm's 95% interval on five of the six and missed it by 0.1 point on seed 1 (41.6% against 46.3% [41.7,
50.9]), as a one-sample interval that ignores the playlist run's noise will now and then (before those changes it
held on seeds 1-6 over this half hour and missed once in six over a longer hour). So the test pins seed 1 and checks
the fair two-sample version, with the one-sample reading allowed the playlist run's own standard error."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from signage.clock import SimClock
from signage.config import Config
from signage.config.rules import RulesConfig
from signage.content import load_pool
from signage.decision import Decider
from signage.decision.policies import build_policy
from signage.engine import Engine
from signage.player import InstantScreen
from signage.report import arm_hold_rates, build_report, format_report, newcombe, uplift
from signage.sim import VirtualStore
from signage.store import StoreWriter

SEED = 1
RULES = {
    "control_share": 0.5,
    "exploration_floor": 0.05,
    "items": {
        "running-shoes": {"max_plays_per_hour": 12},
        "coffee": {"max_plays_per_hour": 15},
        "phone": {"max_share": 0.12},
    },
    "advertisers": {"Toy Box": {"min_share": 0.12}},
}
# (items, min, max) of every share target: the pool's own (loyalty-app) and the config's
SHARES = {
    "phone": ({"phone"}, None, 0.12),
    "Toy Box": ({"toys"}, 0.12, None),
    "loyalty-app": ({"loyalty-app"}, 0.05, 0.3),
}


def run(policy_name: str, db: Path) -> None:
    config = Config()
    pool = load_pool(Path(config.content.pool))
    sim = config.sim.model_copy(update={"seed": SEED, "arrivals_per_hour": 1500.0})
    config = config.model_copy(update={"rules": RulesConfig.model_validate(RULES), "sim": sim})
    start = datetime(2026, 3, 3, 12, 0, tzinfo=ZoneInfo(config.screen.timezone)).astimezone(UTC)
    clock = SimClock(start_utc=start)
    shoppers = VirtualStore(sim, start_utc=start, timezone=config.screen.timezone, items=pool.items)
    policy = build_policy(policy_name, items=pool.rotation, config=config.decision, seed=SEED)
    decider = Decider.from_config(policy, pool.rotation, config, item_rules=pool.item_rules)
    writer = StoreWriter(config.store, path=db).start()
    engine = Engine(
        config, source=shoppers, pool=pool, decider=decider, store=writer, clock=clock, screen=InstantScreen()
    )
    try:
        engine.run_simulated(1800.0, tick_s=0.25, speed=0.0, frame_interval_s=1.0)
    finally:
        writer.close()


def shares_by_arm(db: Path) -> dict[tuple[str, str], float]:
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT d.arm, p.item_id, p.ended_mono - p.started_mono FROM plays p "
            "JOIN decisions d ON d.id = p.decision_id WHERE p.ended_mono IS NOT NULL"
        ).fetchall()
    for arm, item_id, duration in rows:
        seconds[("screen", item_id)] += duration
        if arm == "control":
            seconds[("control", item_id)] += duration
    shares = {}
    for slots in ("screen", "control"):
        total = sum(v for (s, _), v in seconds.items() if s == slots)
        for name, (item_ids, _, _) in SHARES.items():
            shares[(slots, name)] = sum(v for (s, i), v in seconds.items() if s == slots and i in item_ids) / total
    return shares


def test_the_control_arm_estimates_a_separate_playlist_run_and_shares_hold_on_its_slots(tmp_path: Path) -> None:
    run("contextual", tmp_path / "mixed.db")
    run("round_robin", tmp_path / "playlist.db")

    reported = uplift(tmp_path / "mixed.db")
    assert reported.difference is not None and reported.low is not None and reported.high is not None
    assert reported.low <= reported.difference <= reported.high
    assert reported.control.denominator > 300 and reported.learner.denominator > 300
    report = build_report(tmp_path / "mixed.db")
    assert f"uplift vs control {reported}" in format_report(report)
    assert report.to_json()["uplift"]["difference"] == reported.difference
    playlist = arm_hold_rates(tmp_path / "playlist.db")
    assert set(playlist) <= {"control", "rule"}  # the playlist alone: every rotation decision is the control arm's
    plain = playlist["control"]
    assert plain.value is not None and plain.denominator > 600
    plain_se = (plain.value * (1.0 - plain.value) / plain.denominator) ** 0.5
    assert reported.control.low - plain_se <= plain.value <= reported.control.high + plain_se, (
        str(reported),
        str(plain),
    )
    both = newcombe(reported.control, plain)
    assert both is not None and both[1] <= 0.0 <= both[2]

    for (slots, name), share in shares_by_arm(tmp_path / "mixed.db").items():
        _, low, high = SHARES[name]
        assert (low is None or share >= low) and (high is None or share <= high), (slots, name, share)
