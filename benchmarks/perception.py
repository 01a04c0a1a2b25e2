"""Face perception benchmark: per-stage and per-frame latency, fps, CPU use and peak memory for 0, 1, 3 and 6 faces.

Frames are 640x480, composed from the labelled portraits in tests/data (signage.perception.clips), faces 60-200 px
tall and moving. Each case times `analyze(frame)` on every frame with `--threads` onnxruntime threads, for two
schedules built from the default config in the same run:
- engine: signage.perception.scheduler.PerceptionScheduler (detection cadence, a refresh budget for landmarks,
  irises only on faces that face the screen);
- naive: signage.perception.pipeline.FacePipeline (detection, landmarks, head pose and both irises on every face of
  every frame).
The first `--warmup` frames are not counted. CPU use is process CPU time / wall time (1.0 = one core busy); peak
memory is the process's maximum resident set size at the end (both schedules' sessions loaded).

    python benchmarks/perception.py [--frames N] [--warmup W] [--threads T ...] [--json PATH]

Targets (issue 6, one perception thread): >= 60 fps with 1 face, >= 30 fps with 6 faces, peak memory < 400 MB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from signage.config import Config
from signage.perception.clips import composed_clip, load_sources
from signage.perception.pipeline import FacePipeline
from signage.perception.scheduler import PerceptionScheduler

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("detect", "landmarks", "head_pose", "iris", "total")
SCHEDULES = ("engine", "naive")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def run(schedule: str, threads: int, faces: int, frames: int, warmup: int) -> dict[str, object]:
    config = Config()
    config = config.model_copy(
        update={"perception": config.perception.model_copy(update={"intra_op_threads": threads})}
    )
    pipeline = PerceptionScheduler.from_config(config) if schedule == "engine" else FacePipeline.from_config(config)
    clip = list(
        composed_clip(load_sources(ROOT / "tests" / "data"), seed=11, counts=(faces,), frames_per_segment=frames)
    )
    timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
    found = 0
    cpu_start, wall_start = 0.0, 0.0
    for i, clip_frame in enumerate(clip):
        if i == warmup:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
        result = pipeline.analyze(clip_frame.frame)
        if i >= warmup:
            found += len(result)
            for stage in STAGES:
                timings[stage].append(result.timings_ms.get(stage, 0.0))
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    counted = len(clip) - warmup
    return {
        "schedule": schedule,
        "threads": threads,
        "faces": faces,
        "frames": counted,
        "faces_found_per_frame": found / counted,
        "fps": counted / wall,
        "cpu_cores_used": cpu / wall,
        **{f"{stage}_p50_ms": percentile(timings[stage], 50) for stage in STAGES},
        **{f"{stage}_p95_ms": percentile(timings[stage], 95) for stage in STAGES},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="face perception benchmark")
    parser.add_argument("--frames", type=int, default=120, help="frames timed per case (after warm-up)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--faces", type=int, nargs="+", default=[0, 1, 3, 6])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "perception.json")
    args = parser.parse_args()
    rows = [
        run(schedule, threads, faces, args.frames + args.warmup, args.warmup)
        for threads in args.threads
        for faces in args.faces
        for schedule in SCHEDULES
    ]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = f"{'schedule':>8} {'thr':>3} {'faces':>5} {'found':>5} {'fps':>6} {'cpu':>5} " + " ".join(
        f"{s + ' p50/p95':>18}" for s in STAGES
    )
    print(header)
    for r in rows:
        stages = " ".join(f"{r[f'{s}_p50_ms']:8.2f}/{r[f'{s}_p95_ms']:<9.2f}" for s in STAGES)
        print(
            f"{r['schedule']:>8} {r['threads']:>3} {r['faces']:>5} {r['faces_found_per_frame']:>5.1f} "
            f"{r['fps']:>6.1f} {r['cpu_cores_used']:>5.2f} {stages}"
        )
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    most = max(args.faces)
    for threads in args.threads:
        fps = {r["schedule"]: float(r["fps"]) for r in rows if r["threads"] == threads and r["faces"] == most}  # type: ignore[arg-type]
        if fps.get("naive"):
            print(f"engine / naive at {most} faces, {threads} thread(s): {fps['engine'] / fps['naive']:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "perception",
                "schedules": {
                    "engine": "PerceptionScheduler at the default config",
                    "naive": "FacePipeline: every model (detection, landmarks, both irises) on every face every frame",
                },
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "peak_rss_mb": peak_mb,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
