"""`signage run`: the live engine on a camera, a video file or a stream.

The camera (with its watchdog), face perception and the tracker feed the audience stage through `LiveSource`; the
engine decides, the player shows, the store logs, all on the system clock. A camera that cannot be opened is not
fatal: the screen plays in degraded mode (plays unmeasured, restricted items out) while the watchdog retries. A
missing model file, a missing video file or a bad config stops it at start with a message.
"""

from __future__ import annotations

import argparse
import signal
import sys
import zoneinfo
from pathlib import Path
from types import FrameType

from signage.capture import CameraState, SourceKind, SourceSpec

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
FIRST_EVENT_WAIT_S = 3.0  # how long the start waits to tell the user whether the camera opened


def add_run_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], formatter: type[argparse.HelpFormatter]
) -> None:
    run = commands.add_parser(
        "run",
        formatter_class=formatter,
        help="run the live engine on a camera, a video file or a stream",
        description="Run the engine live: camera (or video file, or stream) -> faces -> tracks -> audience -> "
        "decisions -> player -> store, in real time. Ctrl-C or closing the window stops it; a video file stops it "
        "at its end. Without a camera the screen keeps playing, unmeasured, while the camera is retried.",
    )
    run.add_argument(
        "--source",
        default=None,
        help="camera index (0), device (/dev/video0), video file, stream URL or 'synthetic' "
        "(default: capture.source of the config)",
    )
    run.add_argument("--headless", action="store_true", help="no window (automatic when no display is found)")
    run.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (default: no limit)")
    run.add_argument("--config", type=Path, default=None, help="config file (TOML); built-in defaults if omitted")
    run.add_argument("--db", type=Path, default=None, help="database file (default: store.path of the config)")


def run(args: argparse.Namespace) -> int:
    from signage.capture import open_camera
    from signage.cli import _has_display, finish_with_report, load_config_and_pool, overlay_lines, progress_line
    from signage.clock import SystemClock
    from signage.content_watch import PoolWatcher
    from signage.decision import Decider
    from signage.decision.history import DeliveryHistory
    from signage.decision.persistence import SnapshotSaver, restore_policy
    from signage.decision.policies import build_policy
    from signage.engine import Engine, Progress
    from signage.live import LiveSource
    from signage.perception.bodies import body_schedule_from_config
    from signage.perception.models import ModelError
    from signage.perception.profiles import TrackProfiler
    from signage.perception.scheduler import PerceptionScheduler
    from signage.player import GaplessPlayer
    from signage.store import StoreWriter
    from signage.tracking import Tracker

    if args.minutes is not None and args.minutes <= 0:
        print("signage run: --minutes must be > 0", file=sys.stderr)
        return EXIT_USAGE
    loaded = load_config_and_pool(args.config)
    if loaded is None:
        return EXIT_USAGE
    config, pool = loaded
    if args.source is not None:
        config = config.model_copy(update={"capture": config.capture.model_copy(update={"source": args.source})})
    try:
        spec = SourceSpec.parse(config.capture.source)
    except ValueError as exc:
        print(f"signage run: --source: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if spec.kind is SourceKind.FILE and not Path(str(spec.target)).is_file():
        print(f"signage run: video file {spec.target} not found", file=sys.stderr)
        return EXIT_USAGE
    try:
        pipeline = PerceptionScheduler.from_config(config)
        profiler = TrackProfiler.from_config(config)
        bodies = body_schedule_from_config(config)
    except ModelError as exc:
        print(f"signage run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    headless = args.headless
    if not headless and not _has_display():
        print("signage run: no display found, running headless (the player renders offscreen)")
        headless = True

    db_path = args.db or Path(config.store.path)
    clock = SystemClock()
    zone = zoneinfo.ZoneInfo(config.screen.timezone)
    snapshot_path = Path(config.decision.snapshot_path)
    policy = restore_policy(
        build_policy(config.decision.policy, items=pool.rotation, config=config.decision), snapshot_path
    )
    # Caps and shares go on from the plays already logged today (a restart must not reset them).
    history = DeliveryHistory.from_store(db_path, timezone=config.screen.timezone, now_utc=clock.utc())
    decider = Decider.from_config(
        policy, pool.rotation, config, item_rules=pool.item_rules, history=history, detail_items=pool.detail_items
    )
    source = LiveSource(
        camera=open_camera(config.capture),
        analyzer=pipeline,
        tracker=Tracker(config.tracking),
        clock=clock,
        profiler=profiler,
        bodies=bodies,
    )
    store = StoreWriter(config.store, path=db_path).start()
    player = GaplessPlayer(config.player, headless=headless)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        source.start()
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
            mode="run",
            model_versions=",".join(pipeline.model_versions),
            snapshots=SnapshotSaver(path=snapshot_path, every_s=config.decision.snapshot_interval_min * 60),
            pool_watcher=PoolWatcher(Path(config.content.pool)),
        )
        running = engine

        def stop(signum: int, frame: FrameType | None) -> None:
            running.stop_requested.set()

        # Ctrl-C, and a service manager's stop or restart (SIGTERM): finish cleanly, saving what was learned.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        mode = "headless" if headless else "window"
        limit = "until stopped" if args.minutes is None else f"for {args.minutes:g} minutes"
        print(
            f"signage run: source {config.capture.source} ({spec.kind}), {mode}, {len(pool)} items, "
            f"database {db_path}, {limit} (Ctrl-C stops)",
            flush=True,
        )
        first = source.wait_first_event(min(FIRST_EVENT_WAIT_S, config.capture.start_timeout_s))
        if first is None or first.state is not CameraState.LIVE:
            why = first.reason if first is not None else "no frame yet"
            print(
                f"signage run: camera {config.capture.source} is not available ({why}); the screen plays in "
                "degraded mode (unmeasured) and the camera is retried in the background",
                file=sys.stderr,
                flush=True,
            )

        def overlay(p: Progress) -> list[str]:
            live = source.stats()
            perception_fps = 1000.0 / live.perception_ms_mean if live.perception_ms_mean > 0 else 0.0
            return overlay_lines(p, zone, f"camera {live.camera_state}  perception {perception_fps:.0f} fps")

        def print_progress(p: Progress) -> None:
            print(progress_line(p, zone, f"camera {source.stats().camera_state}"), flush=True)

        summary = engine.run_live(
            None if args.minutes is None else args.minutes * 60,
            tick_s=1.0 / config.capture.fps,
            frame_interval_s=1.0 / config.player.fps,
            stop_when=source.ended,
            on_progress=print_progress,
            progress_every_s=60.0,
            overlay=overlay if config.player.overlay else None,
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        source.close()
        player.close()
        store_closed = store.close()
    live = source.stats()
    print(
        f"signage run: {summary.real_seconds:.1f} s, {summary.plays} plays, {summary.frames} frames presented "
        f"(longest gap {summary.max_frame_gap_s * 1e3:.0f} ms), {live.frames} camera frames perceived "
        f"({live.perception_ms_mean:.1f} ms each)" + (" (stopped early)" if summary.stopped_early else ""),
        flush=True,
    )
    return finish_with_report("run", db_path, summary, store_closed=store_closed)
