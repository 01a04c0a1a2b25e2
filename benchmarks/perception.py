"""Face perception benchmark: per-stage and per-frame latency, fps, CPU use and peak memory for 0, 1, 3 and 6 faces.

Frames are 640x480, composed from the labelled portraits in tests/data (signage.perception.clips), faces 60-200 px
tall and moving. Each case times `analyze(frame)` on every frame with `--threads` onnxruntime threads, for two
schedules built from the same config in the same run:
- engine: signage.perception.scheduler.PerceptionScheduler (detection cadence, still frames without detection, a
  refresh budget for landmarks and one for irises, attentive faces first);
- naive: signage.perception.pipeline.FacePipeline (detection, landmarks, head pose and both irises on every face of
  every frame).
Each case runs `--repeat` times, engine and naive back to back in each repeat, so that a load change on a shared
machine hits both; fps is the median over the repeats, the ratio the median of the per-repeat ratios, latencies are
pooled over the repeats. The first `--warmup` frames of each run are not counted. CPU use is process CPU time / wall
time (1.0 = one core busy); peak memory is the process's maximum resident set size at the end (both schedules'
sessions were loaded, one at a time). For the engine, "pose age" and "gaze age" say how current its faces are: per
frame, the most frames any followed face's head pose (any facing face's gaze) is older than the frame, p95 over frames
(0: measured on this very frame, as the naive schedule does), and "det" the share of frames the detector ran on:
the faces here move slowly, as people who stop to watch do (0.3 px and 1 px of growth a frame), so the engine skips
detection on still frames; on the fast test clips (tests/data/perception_golden.json) it detects on nearly every
frame with faces, at the cost the schedule had before.

    python benchmarks/perception.py [--frames N] [--warmup W] [--threads T ...] [--faces F ...] [--repeat R]
                                    [--set KEY=VALUE ...] [--models-dir DIR] [--json PATH]

--set overrides a [perception] config key for both schedules (e.g. --set iris_refreshes_per_frame=2).
Targets (issue 6, one perception thread): >= 60 fps with 1 face, >= 30 fps with 6 faces, >= 3x the naive schedule at
6 faces, peak memory < 400 MB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from signage.config import Config
from signage.perception.clips import composed_clip, load_sources
from signage.perception.pipeline import FacePipeline
from signage.perception.scheduler import PerceptionScheduler

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("still_check", "detect", "landmarks", "head_pose", "iris", "total")
SCHEDULES = ("engine", "naive")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = json.loads(value)
    return overrides


def build_config(threads: int, overrides: dict[str, Any], models_dir: str) -> Config:
    config = Config()
    update = {"intra_op_threads": threads, **overrides}
    if models_dir:
        update["models_dir"] = models_dir
    perception = config.perception.model_validate({**config.perception.model_dump(), **update})
    return config.model_copy(update={"perception": perception})


def run_once(schedule: str, config: Config, faces: int, frames: int, warmup: int) -> dict[str, Any]:
    pipeline = PerceptionScheduler.from_config(config) if schedule == "engine" else FacePipeline.from_config(config)
    clip = list(
        composed_clip(load_sources(ROOT / "tests" / "data"), seed=11, counts=(faces,), frames_per_segment=frames)
    )
    timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
    pose_ages: list[float] = []
    gaze_ages: list[float] = []
    found = detected = 0
    cpu_start, wall_start = 0.0, 0.0
    for i, clip_frame in enumerate(clip):
        if i == warmup:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
        result = pipeline.analyze(clip_frame.frame)
        if i < warmup:
            continue
        found += len(result)
        detected += "detect" in result.timings_ms
        for stage in STAGES:
            timings[stage].append(result.timings_ms.get(stage, 0.0))
        pose_age, gaze_age = pipeline.ages() if isinstance(pipeline, PerceptionScheduler) else (0, 0)
        pose_ages.append(pose_age)
        gaze_ages.append(gaze_age)
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    counted = len(clip) - warmup
    return {
        "fps": counted / wall,
        "cpu": cpu / wall,
        "cpu_ms": cpu / counted * 1e3,
        "found": found / counted,
        "detected": detected / counted,
        "timings": timings,
        "pose_ages": pose_ages,
        "gaze_ages": gaze_ages,
    }


def run_case(config: Config, threads: int, faces: int, frames: int, warmup: int, repeat: int) -> list[dict[str, Any]]:
    runs: dict[str, list[dict[str, Any]]] = {schedule: [] for schedule in SCHEDULES}
    for _ in range(repeat):
        for schedule in SCHEDULES:
            runs[schedule].append(run_once(schedule, config, faces, frames, warmup))
    ratios = [e["fps"] / n["fps"] for e, n in zip(runs["engine"], runs["naive"], strict=True)]
    cpu_ratios = [n["cpu_ms"] / e["cpu_ms"] for e, n in zip(runs["engine"], runs["naive"], strict=True)]
    rows = []
    for schedule in SCHEDULES:
        done = runs[schedule]
        pooled = {stage: [v for run in done for v in run["timings"][stage]] for stage in STAGES}
        rows.append(
            {
                "schedule": schedule,
                "threads": threads,
                "faces": faces,
                "repeats": repeat,
                "frames_per_repeat": frames - warmup,
                "faces_found_per_frame": statistics.median(run["found"] for run in done),
                "detector_ran_share": statistics.median(run["detected"] for run in done),
                "fps": statistics.median(run["fps"] for run in done),
                "fps_runs": [round(run["fps"], 1) for run in done],
                "engine_over_naive": statistics.median(ratios) if schedule == "engine" else 1.0,
                "engine_over_naive_cpu": statistics.median(cpu_ratios) if schedule == "engine" else 1.0,
                "cpu_cores_used": statistics.median(run["cpu"] for run in done),
                "cpu_ms_per_frame": statistics.median(run["cpu_ms"] for run in done),
                "pose_age_p95_frames": percentile([v for run in done for v in run["pose_ages"]], 95),
                "gaze_age_p95_frames": percentile([v for run in done for v in run["gaze_ages"]], 95),
                **{f"{stage}_p50_ms": percentile(pooled[stage], 50) for stage in STAGES},
                **{f"{stage}_p95_ms": percentile(pooled[stage], 95) for stage in STAGES},
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description="face perception benchmark")
    parser.add_argument("--frames", type=int, default=120, help="frames timed per run (after warm-up)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--faces", type=int, nargs="+", default=[0, 1, 3, 6])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; medians are reported")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--models-dir", default="", help="model folder (default: the shipped models/)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "perception.json")
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    rows = [
        row
        for threads in args.threads
        for faces in args.faces
        for row in run_case(
            build_config(threads, overrides, args.models_dir),
            threads,
            faces,
            args.frames + args.warmup,
            args.warmup,
            args.repeat,
        )
    ]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"config overrides: {overrides or 'none'}; models: {args.models_dir or 'shipped'}; repeats: {args.repeat}")
    header = (
        f"{'schedule':>8} {'thr':>3} {'faces':>5} {'found':>5} {'fps':>6} {'x':>5} {'cpu':>5} {'cpu_ms':>6} "
        f"{'x_cpu':>5} {'ages':>5} {'det':>4} " + " ".join(f"{s + ' p50/p95':>18}" for s in STAGES)
    )
    print(header)
    for r in rows:
        stages = " ".join(f"{r[f'{s}_p50_ms']:8.2f}/{r[f'{s}_p95_ms']:<9.2f}" for s in STAGES)
        ages = f"{r['pose_age_p95_frames']:.0f}/{r['gaze_age_p95_frames']:.0f}"
        print(
            f"{r['schedule']:>8} {r['threads']:>3} {r['faces']:>5} {r['faces_found_per_frame']:>5.1f} "
            f"{r['fps']:>6.1f} {r['engine_over_naive']:>5.2f} {r['cpu_cores_used']:>5.2f} "
            f"{r['cpu_ms_per_frame']:>6.2f} {r['engine_over_naive_cpu']:>5.2f} {ages:>5} "
            f"{r['detector_ran_share']:>4.2f} {stages}"
        )
    print(
        "fps: median of the repeats; x: engine fps / naive fps, median of the per-repeat ratios; cpu: cores busy; "
        "cpu_ms: process CPU time per frame (steadier than wall time on a shared machine); x_cpu: naive cpu_ms / "
        "engine cpu_ms, median of the per-repeat ratios; ages: pose/gaze age p95 in frames; "
        "det: share of frames the face detector ran on"
    )
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "perception",
                "schedules": {
                    "engine": "PerceptionScheduler",
                    "naive": "FacePipeline: every model (detection, landmarks, both irises) on every face every frame",
                },
                "config_overrides": overrides,
                "models_dir": args.models_dir or "shipped",
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
