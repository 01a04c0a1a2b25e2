"""Every policy on the same simulated arrival streams and seeds: attention, hold and notice rates, % of the oracle.

    python benchmarks/policy.py [--days 30] [--seeds 7 8] [--jobs 2] [--policies round_robin contextual ...]

For each seed the virtual store brings the same shoppers along the same paths whatever is shown (its population
random stream does not depend on behaviour), so policies are compared on paired streams. The oracle sees the hidden
appeal of each item to each shopper in view (`signage.simulate.OraclePolicy`).

Printed per policy (means over seeds): hold rate, notice rate, attention seconds per passer-by, its ratio to
round-robin's, % of the oracle's attention per passer-by, the decisions (and rewards learned) until a trailing day
of attention first reaches 80% / 90% of the oracle's over the same day, and select+learn time. A separate
micro-benchmark times select + learn alone with 50 items (no engine threads competing for the GIL).
Writes benchmarks/results/policy.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signage.config import load_config
from signage.content import load_pool
from signage.decision.policies import POLICY_NAMES, build_policy
from signage.simulate import SimulationResult, simulate
from signage.types import ContentItem, ContentKind, Context

RESULTS = Path(__file__).parent / "results"
HOUR_S = 3600.0


def run_one(policy: str, seed: int, days: float, tick_s: float | None) -> SimulationResult:
    config = load_config(None)
    pool = load_pool(Path(config.content.pool))
    return simulate(config, pool, policy=policy, days=days, seed=seed, tick_s=tick_s)


def hourly(result: SimulationResult, hours: int) -> tuple[list[float], list[int], list[int]]:
    """Reward summed per simulated hour, and the decisions / rewards learned by the end of each hour."""
    reward = [0.0] * hours
    decisions = [0] * hours
    learned = [0] * hours
    for count, (t, decided, value) in enumerate(result.rewards, start=1):
        hour = min(hours - 1, int(t // HOUR_S))
        reward[hour] += value
        decisions[hour] = max(decisions[hour], decided)
        learned[hour] = count
    for h in range(1, hours):
        decisions[h] = max(decisions[h], decisions[h - 1])
        learned[h] = max(learned[h], learned[h - 1])
    return reward, decisions, learned


def until_share(result: SimulationResult, oracle: SimulationResult, share: float) -> tuple[int, int] | None:
    """(decisions, rewards learned) when a trailing 24 h of attention first reached `share` of the oracle's."""
    hours = int(result.days * 24)
    mine, decisions, learned = hourly(result, hours)
    best, _, _ = hourly(oracle, hours)
    for h in range(23, hours):
        window = slice(h - 23, h + 1)
        if sum(best[window]) > 0 and sum(mine[window]) >= share * sum(best[window]):
            return decisions[h], learned[h]
    return None


def micro(policy_name: str, *, items: int = 50, steps: int = 3000) -> dict[str, float]:
    """select + learn alone with `items` eligible items: p50 and p99 in microseconds."""
    pool = tuple(
        ContentItem(
            f"item-{i}",
            "",
            ContentKind.TEXT,
            8.0,
            f"adv-{i % 9}",
            f"cat-{i % 7}",
            tags=(f"tag-{i % 11}", f"tag-{i % 13}", f"tag-{i % 5}"),
            motion=i % 3 == 0,
        )
        for i in range(items)
    )
    policy = build_policy(policy_name, items=pool, seed=1)
    rng = random.Random(2)
    now = datetime(2026, 3, 3, 12, tzinfo=UTC)
    times = []
    for step in range(steps):
        child = rng.random()
        features = {"age_child": child, "age_adult": 1 - child, "gender_female": rng.random(), "group_max": 2.0}
        ctx = Context(now, step % 24, step % 7, 2, 1, child > 0.5, step % 5 == 0, True, features)
        start = time.perf_counter()
        decision = policy.select(ctx, pool)
        policy.learn(ctx, decision.item_id, 10.0 * rng.random())
        times.append(time.perf_counter() - start)
    times.sort()
    return {"p50_us": times[len(times) // 2] * 1e6, "p99_us": times[int(0.99 * len(times))] * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tick-s", type=float, default=None, help="override sim.tick_s (0.2 halves the time)")
    parser.add_argument("--policies", nargs="+", default=list(POLICY_NAMES))
    args = parser.parse_args()
    policies = [p for p in args.policies if p != "oracle"] + ["oracle"]
    if "round_robin" not in policies:
        policies.insert(0, "round_robin")
    started = time.perf_counter()
    runs: dict[tuple[str, int], SimulationResult] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            (name, seed): pool.submit(run_one, name, seed, args.days, args.tick_s)
            for seed in args.seeds
            for name in policies
        }
        for key, future in futures.items():
            runs[key] = future.result()
    rows: list[dict[str, Any]] = []
    for name in policies:
        per_seed = [runs[(name, seed)] for seed in args.seeds]
        rr = [runs[("round_robin", seed)] for seed in args.seeds]
        oracle = [runs[("oracle", seed)] for seed in args.seeds]
        reach = {}
        for share in (0.7, 0.8, 0.9):
            hits = [until_share(r, o, share) for r, o in zip(per_seed, oracle, strict=True)]
            reach[share] = None if any(h is None for h in hits) else max(h[0] for h in hits if h)  # worst seed
            reach[f"{share}_learned"] = None if any(h is None for h in hits) else max(h[1] for h in hits if h)
        row = {
            "policy": name,
            "hold_rate": statistics.fmean(r.hold_rate for r in per_seed),
            "notice_rate": statistics.fmean(r.notice_rate for r in per_seed),
            "attention_per_viewer_s": statistics.fmean(r.attention_per_viewer_s for r in per_seed),
            "attention_vs_round_robin": statistics.fmean(
                r.attention_per_viewer_s / b.attention_per_viewer_s for r, b in zip(per_seed, rr, strict=True)
            ),
            "hold_vs_round_robin": statistics.fmean(
                r.hold_rate / b.hold_rate for r, b in zip(per_seed, rr, strict=True)
            ),
            "pct_of_oracle": 100
            * statistics.fmean(
                r.attention_per_viewer_s / o.attention_per_viewer_s for r, o in zip(per_seed, oracle, strict=True)
            ),
            "decisions_to_70pct": reach[0.7],
            "decisions_to_80pct": reach[0.8],
            "decisions_to_90pct": reach[0.9],
            "rewards_to_80pct": reach["0.8_learned"],
            "select_learn_p99_in_engine_us": max(r.select_us_p99 + r.learn_us_p99 for r in per_seed),
            "micro_50_items": micro(name) if name != "oracle" else None,
            "per_seed": [r.to_json() for r in per_seed],
        }
        rows.append(row)
    elapsed = time.perf_counter() - started

    def fmt(value: Any) -> str:
        return "-" if value is None else str(value)

    print(f"policies on the virtual store: {args.days:g} days x seeds {args.seeds}, {elapsed:.0f} s wall")
    header = (
        f"{'policy':13s} {'hold':>6s} {'notice':>7s} {'att/vw s':>9s} {'att xRR':>8s} {'hold xRR':>9s} "
        f"{'%oracle':>8s} {'dec->70%':>9s} {'dec->80%':>9s} {'dec->90%':>9s} {'s+l p50us':>10s} {'s+l p99us':>10s}"
    )
    print(header)
    for row in rows:
        m = row["micro_50_items"] or {"p50_us": 0.0, "p99_us": 0.0}
        print(
            f"{row['policy']:13s} {row['hold_rate']:6.1%} {row['notice_rate']:7.1%} "
            f"{row['attention_per_viewer_s']:9.2f} {row['attention_vs_round_robin']:8.2f} "
            f"{row['hold_vs_round_robin']:9.2f} {row['pct_of_oracle']:8.1f} {fmt(row['decisions_to_70pct']):>9s} "
            f"{fmt(row['decisions_to_80pct']):>9s} {fmt(row['decisions_to_90pct']):>9s} "
            f"{m['p50_us']:10.0f} {m['p99_us']:10.0f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "policy.json"
    out.write_text(json.dumps({"days": args.days, "seeds": args.seeds, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
