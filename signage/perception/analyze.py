"""`signage analyze PATH`: run face perception on an image or a video file, one result per frame.

With --json each frame is one JSON object on its own line (JSON Lines), so a long video streams; without it, one
short line per frame. Images are read with OpenCV (png, jpg, bmp, ...); anything else is opened as a video.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from signage.config import ConfigError, load_config
from signage.perception.models import ModelError
from signage.perception.pipeline import FaceAnalysis, FacePipeline
from signage.types import Frame

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class SourceError(Exception):
    """A path that is neither a readable image nor a readable video."""


def frames_of(path: Path) -> Iterator[Frame]:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"{path}: not a readable image")
        yield Frame(np.asarray(image, dtype=np.uint8), t_mono=0.0, index=0)
        return
    video = cv2.VideoCapture(str(path))
    if not video.isOpened():
        raise SourceError(f"{path}: not a readable image or video")
    fps = video.get(cv2.CAP_PROP_FPS) or 0.0
    index = 0
    try:
        while True:
            ok, image = video.read()
            if not ok:
                break
            yield Frame(np.asarray(image, dtype=np.uint8), t_mono=index / fps if fps > 0 else float(index), index=index)
            index += 1
    finally:
        video.release()
    if index == 0:
        raise SourceError(f"{path}: no frame could be read")


def _line(result: FaceAnalysis) -> str:
    faces = ", ".join(
        f"face {[round(float(v)) for v in result.detections.boxes[i]]} score {result.detections.scores[i]:.2f} "
        f"yaw {result.head_pose[i, 0]:.0f} pitch {result.head_pose[i, 1]:.0f} roll {result.head_pose[i, 2]:.0f}"
        f"{' facing' if result.facing[i] else ''}"
        for i in range(len(result))
    )
    return f"frame {result.frame_index}: {len(result)} face(s)" + (f": {faces}" if faces else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="an image or a video file")
    parser.add_argument("--json", action="store_true", help="one JSON object per frame (JSON Lines)")
    parser.add_argument("--config", type=Path, default=None, help="config file (TOML); built-in defaults if omitted")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")


def run(args: argparse.Namespace) -> int:
    try:
        pipeline = FacePipeline.from_config(load_config(args.config))
    except (ConfigError, ModelError) as exc:
        print(f"signage analyze: {exc}", file=sys.stderr)
        return 2
    started, count = time.perf_counter(), 0
    try:
        for frame in frames_of(args.path):
            if args.max_frames is not None and count >= args.max_frames:
                break
            result = pipeline.analyze(frame)
            print(json.dumps(result.to_json()) if args.json else _line(result), flush=True)
            count += 1
    except SourceError as exc:
        print(f"signage analyze: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"{count} frame(s) in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
