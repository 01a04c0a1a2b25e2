"""The command line: the only place that starts the engine."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from signage import __version__
from signage.config import Config, ConfigError, load_config
from signage.content import ContentPool
from signage.content_cli import add_content_commands, run_content

if TYPE_CHECKING:
    from signage.engine import Progress, RunSummary

log = logging.getLogger("signage")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Formatter(argparse.HelpFormatter):
    """A fixed width, so the help text is the same on every terminal (the README quotes it; a test compares)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=100, max_help_position=30)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signage",
        formatter_class=_Formatter,
        description="Real-time interactive digital signage: measures attention, decides content, logs everything.",
    )
    parser.add_argument("--version", action="version", version=f"signage {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (debug level)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="run the whole engine on a virtual store (no camera needed) and print a report",
        description="Run the closed loop on simulated shoppers: audience, decisions, player, store, report.",
    )
    demo.add_argument("--headless", action="store_true", help="no window (automatic when no display is found)")
    demo.add_argument("--minutes", type=float, default=30.0, help="simulated minutes to run (default 30)")
    demo.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per real second; 0 = as fast as possible"
    )
    demo.add_argument("--config", type=Path, default=None, help="config file (TOML); built-in defaults if omitted")
    demo.add_argument("--db", type=Path, default=None, help="database file (default: store.path of the config)")
    demo.add_argument("--seed", type=int, default=None, help="seed of the virtual store (default: sim.seed)")

    simulate = commands.add_parser(
        "simulate",
        formatter_class=_Formatter,
        help="run a policy on the virtual store for days, headless, and print its attention metrics",
        description=(
            "Run one policy on the virtual store for N simulated days (from the store's opening at 08:00 local, as "
            "fast as possible, no window) and print hold rate, notice rate, attention per viewer and the decisions "
            "made with people in view. Policies: round_robin, random, "
            "demographic, contextual, river_linear, linucb, and oracle (knows the simulator's hidden tastes)."
        ),
    )
    simulate.add_argument("--policy", required=True, help="policy name (see above)")
    simulate.add_argument("--days", type=float, default=1.0, help="simulated days (default 1)")
    simulate.add_argument("--seed", type=int, default=None, help="seed of the virtual store (default: sim.seed)")
    simulate.add_argument("--config", type=Path, default=None, help="config file (TOML); built-in defaults if omitted")
    simulate.add_argument("--db", type=Path, default=None, help="keep the database here (default: a temporary one)")
    simulate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    report = commands.add_parser(
        "report",
        formatter_class=_Formatter,
        help="print the attention report of a database",
        description="Print the attention report.",
    )
    report.add_argument("--db", type=Path, required=True, help="database file written by the engine")
    report.add_argument("--session", default=None, help="only this engine session (default: all)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")

    evaluate = commands.add_parser(
        "evaluate",
        formatter_class=_Formatter,
        help="estimate off-policy how another policy would have done on the logged decisions",
        description="Off-policy evaluation of a policy on logged decisions: IPS, self-normalised IPS and doubly "
        "robust estimates of its reward per decision, with 95% intervals.",
    )
    evaluate.add_argument("--db", type=Path, required=True, help="database file written by the engine")
    evaluate.add_argument("--policy", required=True, help="policy to evaluate (random, round_robin, ...)")
    evaluate.add_argument("--config", type=Path, default=None, help="config file (its content pool and learner)")
    evaluate.add_argument("--session", default=None, help="only this engine session (default: all)")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    add_content_commands(commands, _Formatter)

    from signage.run_cli import add_run_command

    add_run_command(commands, _Formatter)

    from signage.decision.policy_cli import add_policy_commands

    add_policy_commands(commands, _Formatter)

    config = commands.add_parser(
        "config", formatter_class=_Formatter, help="check configuration files", description="Configuration tools."
    )
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_commands.add_parser(
        "check",
        formatter_class=_Formatter,
        help="validate a config file and list every problem",
        description="Validate a config file.",
    )
    check.add_argument("path", type=Path, help="TOML file to check")

    from signage.perception.analyze import add_arguments as add_analyze_arguments

    analyze = commands.add_parser(
        "analyze",
        formatter_class=_Formatter,
        help="run face perception on an image or a video and print the faces of each frame",
        description="Run face perception (detection, landmarks, head pose, facing) on an image or a video.",
    )
    add_analyze_arguments(analyze)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep pygame's banner out of reports
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "demo":
        return _demo(args)
    if args.command == "report":
        return _report(args)
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "content":
        return run_content(args)
    if args.command == "run":
        from signage.run_cli import run

        return run(args)
    if args.command == "policy":
        from signage.decision.policy_cli import run_policy

        return run_policy(args)
    if args.command == "config":
        return _config_check(args.path)
    if args.command == "analyze":
        from signage.perception.analyze import run as analyze

        return analyze(args)
    raise AssertionError(args.command)  # argparse rejects unknown commands


def _simulate(args: argparse.Namespace) -> int:
    from signage.simulate import SIMULATION_POLICIES, SimulationError, format_result, simulate

    if args.policy not in SIMULATION_POLICIES:
        print(
            f"signage simulate: unknown policy {args.policy!r}; expected one of {', '.join(SIMULATION_POLICIES)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not (math.isfinite(args.days) and args.days > 0):
        print("signage simulate: --days must be a number > 0", file=sys.stderr)
        return EXIT_USAGE
    loaded = load_config_and_pool(args.config)
    if loaded is None:
        return EXIT_USAGE
    config, pool = loaded
    try:
        result = simulate(config, pool, policy=args.policy, days=args.days, seed=args.seed, db_path=args.db)
    except SimulationError as exc:
        print(f"signage simulate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(result.to_json(), indent=2) if args.json else format_result(result))
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from signage.content import PoolError, load_pool
    from signage.decision.evaluate import (
        EvaluationError,
        evaluate,
        format_evaluation,
        items_in_logs,
        load_logged_decisions,
        target,
    )

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        items = load_pool(Path(config.content.pool)).items
    except PoolError:
        items = ()  # item ids from the log stand in; policies that use item features see bare items
    try:
        logs = load_logged_decisions(args.db, session_id=args.session)
        items = items or items_in_logs(logs)
        result = evaluate(logs, target(args.policy, items=items, config=config.decision), items=items)
    except (EvaluationError, ValueError) as exc:
        print(f"signage evaluate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result.to_json(), indent=2) if args.json else format_evaluation(result))
    return EXIT_OK


def _config_check(path: Path) -> int:
    try:
        load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(f"{path}: ok")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from signage.report import ReportError, build_report, format_report

    try:
        report = build_report(args.db, session_id=args.session)
    except ReportError as exc:
        print(f"signage report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return EXIT_OK


def load_config_and_pool(path: Path | None) -> tuple[Config, ContentPool] | None:
    """The config and its content pool, or None after printing every problem (the command then exits 2)."""
    from signage.content import PoolError, load_pool

    try:
        config = load_config(path)
        return config, load_pool(Path(config.content.pool))
    except (ConfigError, PoolError) as exc:
        print(exc, file=sys.stderr)
        return None


def overlay_lines(p: Progress, zone: zoneinfo.ZoneInfo, camera: str = "") -> list[str]:
    """The operator overlay: local time and item, the camera (live runs), the audience, plays and the store."""
    local = p.t_utc.astimezone(zone).strftime("%H:%M:%S")
    return [
        f"{local}  showing {p.showing}",
        *([camera] if camera else []),
        f"present {p.viewers_present}  passers-by {p.passers_by}  watchers {p.watchers}",
        f"plays {p.plays}  store {'ok' if p.store.ok else 'ERROR'}",
    ]


def progress_line(p: Progress, zone: zoneinfo.ZoneInfo, camera: str = "") -> str:
    """One line of a run's progress on the terminal."""
    local = p.t_utc.astimezone(zone).strftime("%H:%M:%S")
    store_state = "ok" if p.store.ok else f"ERROR: {p.store.error}"
    return (
        f"  {local}  {camera + '  ' if camera else ''}plays {p.plays:4d}  passers-by {p.passers_by:4d}  "
        f"watchers {p.watchers:4d}  present {p.viewers_present:2d}  store {store_state}"
    )


def finish_with_report(command: str, db_path: Path, summary: RunSummary, *, store_closed: bool) -> int:
    """Print the session's attention report; exit 1 when the store reported a problem during the run."""
    from signage.report import ReportError, build_report, format_report

    try:
        print(format_report(build_report(db_path, session_id=summary.session_id)))
    except ReportError as exc:
        print(f"signage {command}: no report: {exc}", file=sys.stderr)
    if not (summary.store_clean and store_closed):
        print(f"signage {command}: the store reported a problem: {summary.store_error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _has_display() -> bool:
    if os.environ.get("SDL_VIDEODRIVER") in {"dummy", "offscreen"}:
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _start_utc(config: Config) -> datetime:
    """Today, at the simulated day's start time in the store's time zone."""
    zone = zoneinfo.ZoneInfo(config.screen.timezone)
    hour, minute = (int(part) for part in config.sim.start_local_time.split(":"))
    today = datetime.now(zone).date()
    local = datetime(today.year, today.month, today.day, hour, minute, tzinfo=zone)
    return local.astimezone(UTC)


def _demo(args: argparse.Namespace) -> int:
    from signage.clock import SimClock
    from signage.content_watch import PoolWatcher
    from signage.decision import Decider
    from signage.decision.history import DeliveryHistory
    from signage.decision.policies import build_policy
    from signage.engine import Engine
    from signage.player import GaplessPlayer
    from signage.sim import VirtualStore
    from signage.store import StoreWriter

    if args.minutes <= 0 or args.speed < 0:
        print("signage demo: --minutes must be > 0 and --speed >= 0", file=sys.stderr)
        return EXIT_USAGE
    loaded = load_config_and_pool(args.config)
    if loaded is None:
        return EXIT_USAGE
    config, pool = loaded
    if args.seed is not None:
        config = config.model_copy(update={"sim": config.sim.model_copy(update={"seed": args.seed})})
    headless = args.headless
    if not headless and not _has_display():
        print("signage demo: no display found, running headless (the player renders offscreen)")
        headless = True

    db_path = args.db or Path(config.store.path)
    clock = SimClock(start_utc=_start_utc(config))
    zone = zoneinfo.ZoneInfo(config.screen.timezone)
    source = VirtualStore(
        config.sim,
        start_utc=clock.utc(),
        timezone=config.screen.timezone,
        items=pool.items,
        reid_ttl_s=config.perception.reid_ttl_s,
    )
    # Caps and shares go on from the plays this database already holds for the simulated day, as in `signage run`.
    history = DeliveryHistory.from_store(db_path, timezone=config.screen.timezone, now_utc=clock.utc())
    decider = Decider.from_config(
        build_policy(config.decision.policy, items=pool.rotation, config=config.decision),
        pool.rotation,
        config,
        item_rules=pool.item_rules,
        history=history,
        detail_items=pool.detail_items,
    )
    store = StoreWriter(config.store, path=db_path).start()
    player = GaplessPlayer(config.player, headless=headless)
    for item in pool.items:  # load everything now, so a switch costs one frame
        player.preload(item)
    engine = Engine(
        config,
        source=source,
        pool=pool,
        decider=decider,
        store=store,
        clock=clock,
        screen=player,
        pool_watcher=PoolWatcher(Path(config.content.pool)),
    )

    def overlay(p: Progress) -> list[str]:
        return overlay_lines(p, zone)

    def print_progress(p: Progress) -> None:
        print(progress_line(p, zone), flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        engine.stop_requested.set()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    mode = "headless" if headless else "window"
    speed = "as fast as possible" if args.speed == 0 else f"{args.speed:g}x"
    print(
        f"signage demo: {args.minutes:g} simulated minutes at {speed}, {mode}, "
        f"{len(pool)} items, database {db_path} (Ctrl-C stops early)",
        flush=True,
    )
    try:
        summary = engine.run_simulated(
            args.minutes * 60,
            tick_s=config.sim.tick_s,
            speed=args.speed,
            frame_interval_s=1.0 / config.player.fps,
            on_progress=print_progress,
            progress_every_s=max(60.0, args.minutes * 60 / 10),
            overlay=overlay if config.player.overlay else None,
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        player.close()
        store_closed = store.close()
    print(
        f"signage demo: {summary.sim_seconds / 60:.1f} simulated minutes in {summary.real_seconds:.1f} s"
        + (" (stopped early)" if summary.stopped_early else ""),
        flush=True,
    )
    return finish_with_report("demo", db_path, summary, store_closed=store_closed)


if __name__ == "__main__":
    raise SystemExit(main())
