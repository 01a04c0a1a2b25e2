"""Store writer benchmark: sustained insert throughput of the writer and the caller's enqueue time while it writes.

Two loads per run, each on a fresh database in a temporary folder:

- **burst**: a producer thread hands `--rows` event records to `StoreWriter.write` as fast as it can; the writer
  drains them. Throughput = rows committed / wall time from the first write until `flush()` returned, so only
  committed rows count.
- **paced**: the producer writes at `--rate` rows/s (in ticks of `--tick-ms`, as an engine does per frame) for
  `--seconds`; this is the realistic load for the caller's enqueue latency, and shows whether the writer keeps up.

Records are built before timing, so the figures are the writer's, not record construction (whose cost is reported
separately). Every `write` call is timed with `time.perf_counter_ns`; the writer's backlog is sampled every 50 ms.

    python benchmarks/store.py [--rows N] [--seconds S] [--rate R] [--runs K] [--json PATH]

Targets (from the store issue): >= 20,000 event rows/s sustained, caller p99 enqueue time under 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signage.config import StoreConfig
from signage.ids import new_id
from signage.records import EventKind, EventRecord, Phase
from signage.store import StoreWriter

TARGET_ROWS_PER_S = 20_000.0
TARGET_P99_US = 1_000.0
SAMPLE_EVERY_S = 0.05
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "store.json"


# -- records -----------------------------------------------------------------------------------------------------


def build_events(count: int, *, rate: float, seed: int = 7) -> list[EventRecord]:
    """Event rows like the audience stage emits: viewer and exposure lifecycles with their measurements."""
    rng = random.Random(seed)
    session_id = new_id()
    start_utc = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    viewers = [new_id() for _ in range(64)]
    plays = [new_id() for _ in range(8)]
    states = ("passer_by", "watcher", "attentive", "reading")
    records = []
    for i in range(count):
        t = i / rate
        kind = EventKind.VIEWER if rng.random() < 0.7 else EventKind.EXPOSURE
        phase = rng.choices((Phase.START, Phase.UPDATE, Phase.END), weights=(1, 8, 1))[0]
        viewer = rng.choice(viewers)
        dwell = round(rng.uniform(0.5, 60.0), 3)
        payload: dict[str, Any] = {
            "state": rng.choice(states),
            "dwell_s": dwell,
            "attention_s": round(dwell * rng.random(), 3),
            "yaw": round(rng.gauss(0, 25), 2),
            "pitch": round(rng.gauss(0, 12), 2),
            "roll": round(rng.gauss(0, 5), 2),
            "facing": rng.random() < 0.4,
            "gaze": [round(rng.random(), 3), round(rng.random(), 3)],
            "confidence": round(rng.uniform(0.5, 1.0), 3),
            "models": "scrfd-2.5g@1;face-landmarks@1",
        }
        if kind is EventKind.EXPOSURE:
            payload["play_id"] = rng.choice(plays)
            payload["viewer_id"] = viewer
        records.append(
            EventRecord(
                event_id=new_id(int((start_utc.timestamp() + t) * 1000)),
                session_id=session_id,
                kind=kind,
                phase=phase,
                subject_id=viewer,
                t_utc=start_utc + timedelta(seconds=t),
                t_mono=1000.0 + t,
                payload=payload,
            )
        )
    return records


def per_record_us(count: int) -> tuple[float, float]:
    """The cost of building one EventRecord and of turning it into a row (µs), the writer's own per-row work."""
    begin = time.perf_counter()
    records = build_events(count, rate=TARGET_ROWS_PER_S, seed=1)
    built = time.perf_counter() - begin
    begin = time.perf_counter()
    for record in records:
        record.to_row()
    converted = time.perf_counter() - begin
    return built / count * 1e6, converted / count * 1e6


# -- one run -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    p50_us: float
    p99_us: float
    p999_us: float
    max_ms: float
    mean_us: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Latency:
        ordered = sorted(samples_ns)
        n = len(ordered)
        return cls(
            p50_us=ordered[n // 2] / 1e3,
            p99_us=ordered[min(n - 1, n * 99 // 100)] / 1e3,
            p999_us=ordered[min(n - 1, n * 999 // 1000)] / 1e3,
            max_ms=ordered[-1] / 1e6,
            mean_us=sum(ordered) / n / 1e3,
        )


@dataclass(frozen=True)
class RunResult:
    load: str  # "burst" or "paced"
    offered_rows: int
    offered_rate: float | None
    committed_rows: int
    flushed: bool
    wall_s: float  # first write until flush() returned
    produce_s: float  # first write until the last write returned
    drain_s: float  # last write until flush() returned
    rows_per_s: float
    enqueue: Latency
    max_backlog_rows: int
    failed_attempts: int
    backlog: list[tuple[float, int, int]] = field(repr=False)  # (seconds since start, backlog rows, committed rows)


def _produce(
    writer: StoreWriter, records: Sequence[EventRecord], took_ns: list[int], rate: float | None, tick_s: float
) -> None:
    clock_ns = time.perf_counter_ns
    write = writer.write
    if rate is None:
        for i, record in enumerate(records):
            before = clock_ns()
            write(record)
            took_ns[i] = clock_ns() - before
        return
    start = time.perf_counter()
    i, n = 0, len(records)
    while i < n:
        due = min(n, int((time.perf_counter() - start) * rate) + 1)
        while i < due:
            before = clock_ns()
            write(records[i])
            took_ns[i] = clock_ns() - before
            i += 1
        next_tick = start + (i / rate)
        wait = next_tick - time.perf_counter()
        time.sleep(max(wait, tick_s) if wait > 0 else 0)


def run_once(
    records: Sequence[EventRecord], *, config: StoreConfig, rate: float | None, tick_s: float, folder: Path
) -> RunResult:
    writer = StoreWriter(config, path=folder / "bench.db").start()
    if not writer.ready.wait(60):
        raise SystemExit(f"the store writer did not open its database: {writer.health().error}")
    took_ns = [0] * len(records)
    producer = threading.Thread(
        target=_produce, args=(writer, records, took_ns, rate, tick_s), name="bench-producer", daemon=True
    )
    finished: list[tuple[float, bool, float]] = []  # (last write returned, flushed, flush returned)

    def produce_then_flush() -> None:
        producer.start()
        producer.join()
        produced = time.perf_counter()
        finished.append((produced, writer.flush(timeout=600), time.perf_counter()))

    flusher = threading.Thread(target=produce_then_flush, name="bench-flusher", daemon=True)
    samples: list[tuple[float, int, int]] = []
    start = time.perf_counter()
    flusher.start()
    while flusher.is_alive():  # sample the backlog while rows are written and drained
        health = writer.health()
        samples.append((time.perf_counter() - start, health.backlog_rows, health.committed_rows))
        flusher.join(SAMPLE_EVERY_S)
    produced, flushed, done = finished[0]
    health = writer.health()
    samples.append((done - start, health.backlog_rows, health.committed_rows))
    if not writer.close():
        raise SystemExit(f"the store writer did not close cleanly: {writer.health()}")
    wall = done - start
    return RunResult(
        load="burst" if rate is None else "paced",
        offered_rows=len(records),
        offered_rate=rate,
        committed_rows=health.committed_rows,
        flushed=flushed,
        wall_s=wall,
        produce_s=produced - start,
        drain_s=done - produced,
        rows_per_s=health.committed_rows / wall,
        enqueue=Latency.of(took_ns),
        max_backlog_rows=max(b for _, b, _ in samples),
        failed_attempts=health.failed_attempts,
        backlog=samples,
    )


# -- report ------------------------------------------------------------------------------------------------------


def _median(runs: Sequence[RunResult], pick: str) -> float:
    values = [float(getattr(r.enqueue, pick[8:])) if pick.startswith("enqueue.") else getattr(r, pick) for r in runs]
    return statistics.median(values)


def summarize(runs: Sequence[RunResult], *, rate: float) -> dict[str, Any]:
    median = {
        "rows_per_s": _median(runs, "rows_per_s"),
        "p50_us": _median(runs, "enqueue.p50_us"),
        "p99_us": _median(runs, "enqueue.p99_us"),
        "p999_us": _median(runs, "enqueue.p999_us"),
        "max_ms": _median(runs, "enqueue.max_ms"),
        "max_backlog_rows": _median(runs, "max_backlog_rows"),
        "drain_s": _median(runs, "drain_s"),
    }
    if runs[0].load == "burst":
        throughput_ok = median["rows_per_s"] >= TARGET_ROWS_PER_S
    else:  # paced: the writer kept up with the offered rate, which must reach the target
        throughput_ok = rate >= TARGET_ROWS_PER_S and median["drain_s"] < 0.25 and all(r.flushed for r in runs)
    return {
        "median": median,
        "throughput_pass": throughput_ok,
        "p99_pass": median["p99_us"] < TARGET_P99_US,
        "all_committed": all(r.flushed and r.committed_rows == r.offered_rows for r in runs),
    }


def print_table(summaries: dict[str, dict[str, Any]], labels: dict[str, str]) -> None:
    verdict = {True: "PASS", False: "MISS"}
    header = (
        f"{'load':<22}{'rows/s':>10}{'p50 µs':>9}{'p99 µs':>9}{'p99.9 µs':>10}{'max ms':>9}"
        f"{'backlog':>10}{'drain s':>9}   {'≥20,000 rows/s':<16}{'p99 < 1 ms':<10}"
    )
    print(header)
    print("-" * len(header))
    for load, summary in summaries.items():
        m = summary["median"]
        print(
            f"{labels[load]:<22}{m['rows_per_s']:>10,.0f}{m['p50_us']:>9.2f}{m['p99_us']:>9.2f}{m['p999_us']:>10.1f}"
            f"{m['max_ms']:>9.2f}{m['max_backlog_rows']:>10,.0f}{m['drain_s']:>9.3f}   "
            f"{verdict[summary['throughput_pass']]:<16}{verdict[summary['p99_pass']]:<10}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the burst load (default 200000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced load (default 10)")
    parser.add_argument("--rate", type=float, default=TARGET_ROWS_PER_S, help="paced rows/s (default 20000)")
    parser.add_argument("--tick-ms", type=float, default=1.0, help="paced producer's tick (default 1 ms)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each load; the table shows medians")
    parser.add_argument("--batch-max-rows", type=int, default=None, help="override [store] batch_max_rows")
    parser.add_argument(
        "--switch-interval", type=float, default=None, help="sys.setswitchinterval for the experiment (seconds)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.seconds <= 0 or args.rate <= 0 or args.runs < 1:
        parser.error("--rows, --seconds, --rate and --runs must be positive")
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    config = StoreConfig() if args.batch_max_rows is None else StoreConfig(batch_max_rows=args.batch_max_rows)
    paced_rows = max(1, int(args.rate * args.seconds))

    construct_us, to_row_us = per_record_us(20_000)
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"GIL switch interval {sys.getswitchinterval() * 1e3:g} ms, batch_max_rows {config.batch_max_rows}, "
        f"flush_interval_s {config.flush_interval_s}"
    )
    print(f"building an EventRecord: {construct_us:.1f} µs; its to_row(): {to_row_us:.1f} µs (not in the timings)")
    records = build_events(max(args.rows, paced_rows), rate=args.rate)
    loads: dict[str, tuple[Sequence[EventRecord], float | None]] = {
        "burst": (records[: args.rows], None),
        "paced": (records[:paced_rows], args.rate),
    }
    labels = {"burst": f"burst {args.rows:,} rows", "paced": f"paced {args.rate:,.0f}/s × {args.seconds:g} s"}
    results: dict[str, list[RunResult]] = {load: [] for load in loads}
    for run in range(1, args.runs + 1):
        for load, (rows, rate) in loads.items():
            with tempfile.TemporaryDirectory(prefix="signage-bench-") as folder:
                result = run_once(rows, config=config, rate=rate, tick_s=args.tick_ms / 1e3, folder=Path(folder))
            results[load].append(result)
            print(
                f"run {run} {load:<5}: {result.rows_per_s:>9,.0f} rows/s, p99 {result.enqueue.p99_us:.2f} µs, "
                f"max {result.enqueue.max_ms:.2f} ms, backlog max {result.max_backlog_rows:,}, "
                f"drain {result.drain_s:.3f} s, committed {result.committed_rows:,}/{result.offered_rows:,}",
                flush=True,
            )
    summaries = {load: summarize(runs, rate=args.rate) for load, runs in results.items()}
    print(f"\nmedians over {args.runs} runs")
    print_table(summaries, labels)

    report = {
        "benchmark": "store",
        "targets": {"rows_per_s": TARGET_ROWS_PER_S, "p99_us": TARGET_P99_US},
        "environment": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "switch_interval_s": sys.getswitchinterval(),
        },
        "config": {
            **config.model_dump(exclude={"path"}),
            "rows": args.rows,
            "seconds": args.seconds,
            "rate": args.rate,
        },
        "construct_us": construct_us,
        "to_row_us": to_row_us,
        "summary": summaries,
        "runs": {load: [asdict(r) for r in runs] for load, runs in results.items()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    ok = all(s["throughput_pass"] and s["p99_pass"] and s["all_committed"] for s in summaries.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
