"""Player benchmark: presented fps, dropped frames and switch latency at 1080p, offscreen, with a CPU-heavy load
on another core.

    python benchmarks/player.py [--seconds 10] [--fps 60] [--width 1920 --height 1080] [--no-load]

Scenarios play the sample pool (content/pool.toml): stills with cuts, stills with crossfades, stills with slides,
and the videos with crossfades. The loop paces itself to `--fps` against time.monotonic(); a frame that finishes
after the next frame's deadline counts the deadlines it missed as dropped. Each switch preloads the next item half
a switch interval ahead, then `show()`s it; switch latency is the number of frames from `show()` to the item's
STARTED frame (1 = the very next frame). The offscreen SDL driver has no vsync, so fps here is what the CPU can
sustain, not a display's refresh. Results go to benchmarks/results/player.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from signage.config.player import PlayerConfig
from signage.content import load_pool
from signage.player import GaplessPlayer, PlayEventKind, Transition
from signage.types import ContentItem, ContentKind

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "player.json"


def _burn(stop: Any) -> None:
    """A CPU-heavy load, as perception would be: pure-Python arithmetic (holds its own core, not our GIL)."""
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x = (x * 31 + i) % 1_000_003


def run_scenario(
    name: str, items: list[ContentItem], transition: Transition, *, seconds: float, fps: int, size: tuple[int, int]
) -> dict[str, Any]:
    config = PlayerConfig(width=size[0], height=size[1], fps=fps, transition_s=0.5, overlay=False, cache_items=16)
    switch_every_s = 2.0
    frame_s = 1.0 / fps
    with GaplessPlayer(config, headless=True) as player:
        for item in items:
            player.wait_ready(item, timeout_s=30.0)
        player.show(items[0], decision_id="d0", transition=transition)
        start = time.monotonic()
        deadline = start
        next_switch, next_index, preloaded = start + switch_every_s, 1, False
        shown_at: dict[str, tuple[int, float]] = {}
        latencies_frames: list[int] = []
        latencies_ms: list[float] = []
        draw_ms: list[float] = []
        dropped = frames = 0
        while True:
            now = time.monotonic()
            if now - start >= seconds:
                break
            item = items[next_index % len(items)]
            if not preloaded and now >= next_switch - switch_every_s / 2:
                player.preload(item)
                preloaded = True
            if now >= next_switch:
                decision_id = f"d{next_index}"
                shown_at[decision_id] = (player.frames_presented, now)
                player.show(item, decision_id=decision_id, transition=transition)
                next_switch, next_index, preloaded = next_switch + switch_every_s, next_index + 1, False
            report = player.present(now)
            frames += 1
            draw_ms.append(report.draw_s * 1000)
            for event in report.events:
                if event.kind is PlayEventKind.STARTED and event.decision_id in shown_at:
                    frame, t = shown_at.pop(event.decision_id)
                    latencies_frames.append(event.frame - frame + 1)
                    latencies_ms.append((event.t_mono - t) * 1000 + report.draw_s * 1000)
            deadline += frame_s
            after = time.monotonic()
            if after > deadline:
                missed = int((after - deadline) / frame_s) + 1
                dropped += missed
                deadline += (missed - 1) * frame_s
            else:
                time.sleep(deadline - after)
        elapsed = time.monotonic() - start
    draw_ms.sort()
    return {
        "scenario": name,
        "frames": frames,
        "seconds": round(elapsed, 2),
        "fps": round(frames / elapsed, 1),
        "dropped": dropped,
        "draw_ms_median": round(statistics.median(draw_ms), 2),
        "draw_ms_p99": round(draw_ms[min(len(draw_ms) - 1, int(len(draw_ms) * 0.99))], 2),
        "switches": len(latencies_frames),
        "switch_latency_frames_max": max(latencies_frames, default=0),
        "switch_latency_ms_median": round(statistics.median(latencies_ms), 1) if latencies_ms else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per scenario (default 10)")
    parser.add_argument("--fps", type=int, default=60, help="target frame rate (default 60)")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--no-load", action="store_true", help="no CPU-heavy process beside the player")
    parser.add_argument(
        "--only", default="", help="run only the scenarios whose name contains this text (e.g. 'videos')"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each scenario this often and report the run with the median fps"
    )
    args = parser.parse_args()

    pool = load_pool(ROOT / "content" / "pool.toml")
    stills = [item for item in pool if item.kind is not ContentKind.VIDEO]
    videos = [item for item in pool if item.kind is ContentKind.VIDEO]
    stop = multiprocessing.Event()
    load = None if args.no_load else multiprocessing.Process(target=_burn, args=(stop,), daemon=True)
    if load is not None:
        load.start()
    size = (args.width, args.height)
    scenarios = [
        ("stills, cut", stills, Transition.CUT),
        ("stills, crossfade", stills, Transition.CROSSFADE),
        ("stills, slide", stills, Transition.SLIDE),
        ("videos, crossfade", videos, Transition.CROSSFADE),
    ]
    rows = []
    try:
        for name, items, transition in scenarios:
            if args.only not in name:
                continue
            runs = [
                run_scenario(name, items, transition, seconds=args.seconds, fps=args.fps, size=size)
                for _ in range(max(1, args.repeat))
            ]
            runs.sort(key=lambda row: row["fps"])
            row = runs[len(runs) // 2]
            row["fps_runs"] = [run["fps"] for run in runs]
            rows.append(row)
    finally:
        stop.set()
        if load is not None:
            load.join(timeout=5)
    print(f"player at {size[0]}x{size[1]}, target {args.fps} fps, load: {'none' if args.no_load else '1 busy process'}")
    header = ("fps", "dropped", "draw ms p50", "p99", "switches", "lat frames", "lat ms")
    widths = (6, 8, 12, 7, 9, 11, 7)
    print(f"{'scenario':20} " + " ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print(
            f"{row['scenario']:20} {row['fps']:6.1f} {row['dropped']:8d} {row['draw_ms_median']:12.2f} "
            f"{row['draw_ms_p99']:7.2f} {row['switches']:9d} {row['switch_latency_frames_max']:11d} "
            f"{row['switch_latency_ms_median'] or 0:7.1f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "width": size[0],
        "height": size[1],
        "target_fps": args.fps,
        "load": not args.no_load,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
    }
    RESULTS.write_text(json.dumps({"meta": meta, "scenarios": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
