"""Body benchmark: MoveNet MultiPose latency per call and per frame at the configured cadence, and memory added.

Frames are 640x480 with 0, 1 or 3 people (the portraits of tests/data, 300 or 200 px tall, side by side; for the
people without a visible face, the back of a head painted over the face as tests/test_bodies.py does). Each case
times `BodyDetector.detect(frame)` `--runs` times (after `--warmup` calls) with one onnxruntime thread, for each
`--long-side` (the input's longer side; 256 is the model's own), and reports the median and p95; "per frame" is the
median divided by `body_every_n_frames` (the detector's share of a frame's budget at that cadence, carrying the
bodies forward in between costs microseconds). For scale on a shared, noisy machine, the same run times YuNet face
detection (the engine's per-frame detector, at its default 320 px width) on the same frames, interleaved with the
body calls: "x yunet" is the body model's median over YuNet's. Memory: the process's resident set size (RSS, from
/proc) before the models are loaded and after all runs, and the growth of the maximum RSS: what bodies add to the
engine.

    python benchmarks/bodies.py [--runs N] [--warmup W] [--long-side S ...] [--every N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from signage.config import Config
from signage.perception.bodies import BodyDetector
from signage.perception.faces import YuNetDetector
from signage.perception.models import ModelStore, default_models_dir
from signage.types import Frame

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PEOPLE = ("obama.jpg", "grace_hopper.jpg", "trump.jpg")


def rss_mb() -> float:
    """Resident set size now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scene(people: int, *, hidden: bool) -> Frame:
    """A 640x480 frame with `people` portraits side by side, faces visible or painted over."""
    labels = json.loads((DATA / "faces.json").read_text())
    frame = np.full((480, 640, 3), 170, np.uint8)
    height, x = (300 if people == 1 else 200), 10  # three people of 200 px fit side by side
    for name in PEOPLE[:people]:
        image = cv2.imread(str(DATA / name))
        if image is None:
            raise FileNotFoundError(f"cannot read test photo {DATA / name}")
        if hidden:
            x1, y1, x2, y2 = labels[name]["faces"][0]["box"]
            w, h = x2 - x1, y2 - y1
            centre = ((x1 + x2) // 2, (y1 + y2) // 2 - h // 10)
            cv2.ellipse(image, centre, (int(w * 0.62), int(h * 0.68)), 0, 0, 360, (30, 35, 45), -1)
        scale = height / image.shape[0]
        width = min(round(image.shape[1] * scale), 640 - x)
        resized = cv2.resize(image, (round(image.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
        frame[480 - height :, x : x + width] = resized[:, :width]
        x += width + 5
        if x >= 630:
            break
    return Frame(frame, t_mono=0.0, index=0)


def time_calls(
    detector: BodyDetector, reference: YuNetDetector, frame: Frame, runs: int, warmup: int
) -> tuple[list[float], list[float], int]:
    """Body calls and YuNet calls on `frame`, interleaved so a change of load hits both."""
    for _ in range(warmup):
        detector.detect(frame)
        reference.detect(frame)
    times, reference_times, found = [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(detector.detect(frame))
        times.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        reference.detect(frame)
        reference_times.append((time.perf_counter() - started) * 1e3)
    return times, reference_times, found


def main() -> int:
    parser = argparse.ArgumentParser(description="body detection benchmark")
    parser.add_argument("--runs", type=int, default=50, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--long-side", type=int, nargs="+", default=[256, 192])
    parser.add_argument("--every", type=int, default=Config().perception.body_every_n_frames)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bodies.json")
    args = parser.parse_args()

    cases = [(0, False), (1, False), (1, True), (3, False), (3, True)]
    frames = {case: scene(case[0], hidden=case[1]) for case in cases}
    rss_before, peak_before = rss_mb(), peak_mb()  # YuNet (0.2 MB) is loaded inside this window too
    models = ModelStore.load(default_models_dir(), names=("movenet_multipose", "yunet"))
    reference = YuNetDetector(models=models, threads=1)
    rows = []
    header = f"{'long side':>9} {'people':>6} {'faces':>7} {'found':>5} {'p50 ms':>7} {'p95 ms':>7} {'per frame':>9}"
    print(header + f" {'x yunet':>8}")
    for long_side in args.long_side:
        detector = BodyDetector(models=models, threads=1, input_long_side=long_side)
        for (people, hidden), frame in frames.items():
            times, reference_times, found = time_calls(detector, reference, frame, args.runs, args.warmup)
            p50, p95 = statistics.median(times), float(np.percentile(times, 95))
            ratio = p50 / statistics.median(reference_times)
            row = {
                "long_side": long_side,
                "people": people,
                "faces": "hidden" if hidden else "visible",
                "found": found,
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "per_frame_ms": round(p50 / args.every, 2),
                "yunet_p50_ms": round(statistics.median(reference_times), 2),
                "x_yunet": round(ratio, 2),
            }
            rows.append(row)
            faces = row["faces"] if people else "-"
            cells = f"{long_side:>9} {people:>6} {faces:>7} {found:>5} {p50:>7.1f} {p95:>7.1f} {p50 / args.every:>9.1f}"
            print(f"{cells} {ratio:>8.1f}")
    rss_after, peak_after = rss_mb(), peak_mb()
    print(f"per frame = p50 / {args.every} (body_every_n_frames; BodySchedule carries the bodies in between)")
    growth = peak_after - peak_before
    print(f"RSS {rss_before:.0f} -> {rss_after:.0f} MB (+{rss_after - rss_before:.0f}); max RSS +{growth:.0f} MB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "runs": args.runs,
                "threads": 1,
                "every_n_frames": args.every,
                "cases": rows,
                "rss_before_mb": round(rss_before, 1),
                "rss_after_mb": round(rss_after, 1),
                "max_rss_growth_mb": round(peak_after - peak_before, 1),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
