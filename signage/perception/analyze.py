"""`signage analyze PATH`: run face perception on an image or a video file, one result per frame.

With --json each frame is one JSON object on its own line (JSON Lines), so a long video streams; without it, one
short line per frame. Images are read with OpenCV (png, jpg, bmp, ...); anything else is opened as a video.

Each face also gets its age band, gender and mood with their confidences. On an image they are estimated at once. In
a video they come as the engine gets them, once per track: faces are tracked (`track` is the anonymous track id, null
until the tracker confirms the person) and the track profiler describes each track when it first faces the camera,
so `attributes` is null until then. Re-identification is not run here (no person keys are made).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from signage.config import Config, ConfigError, load_config
from signage.perception.attributes import FaceAttributes
from signage.perception.models import ModelError
from signage.perception.pipeline import FaceAnalysis, FacePipeline
from signage.perception.profiles import TrackProfiler
from signage.tracking import PersonDetections, Tracker
from signage.tracking.geometry import body_from_face, iou
from signage.types import Attributes, Frame, Tracks

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


MIN_TRACK_IOU = 0.3  # a face belongs to the track whose box overlaps its box or its implied body this much


def attributes_json(attributes: Attributes) -> dict[str, Any]:
    return {
        "age_band": attributes.age_band.value,
        "age_confidence": round(attributes.age_confidence, 3),
        "gender": attributes.gender.value,
        "gender_confidence": round(attributes.gender_confidence, 3),
        "mood": attributes.mood.value,
        "mood_confidence": round(attributes.mood_confidence, 3),
    }


def tracks_of_faces(result: FaceAnalysis, tracks: Tracks) -> list[int | None]:
    """For each face, the index of its track in `tracks` (None: no confirmed track), one face per track."""
    owners: list[int | None] = [None] * len(result)
    if len(result) == 0 or len(tracks.ids) == 0:
        return owners
    faces = result.detections.boxes.astype(np.float64)
    boxes = tracks.boxes.astype(np.float64)
    overlap = np.maximum(iou(faces, boxes), iou(body_from_face(faces), boxes))
    while overlap.size and overlap.max() >= MIN_TRACK_IOU:
        face, track = np.unravel_index(int(np.argmax(overlap)), overlap.shape)
        owners[int(face)] = int(track)
        overlap[face, :] = -1
        overlap[:, track] = -1
    return owners


class FaceDescriber:
    """Track ids and attributes for the faces of each frame: per image at once, per track in a video."""

    def __init__(self, config: Config, *, video: bool) -> None:
        attributes = FaceAttributes.from_config(config)
        self._attributes = attributes
        self._tracker = Tracker(config.tracking) if video else None
        self._profiler = TrackProfiler(attributes=attributes, embedder=None, memory=None) if video else None

    def describe(self, frame: Frame, result: FaceAnalysis) -> list[dict[str, Any]]:
        """One {"track", "attributes"} per face, in the result's order."""
        if self._tracker is None or self._profiler is None:
            found = self._attributes.estimate(frame, result.detections)
            return [{"track": None, "attributes": attributes_json(a)} for a in found]
        detections = PersonDetections.from_faces(result.detections, result.head_pose, result.gaze)
        tracks = self._tracker.update(detections, frame.t_mono)
        tracks = self._profiler.annotate(frame, result.detections, tracks, frame.t_mono)
        described: list[dict[str, Any]] = []
        for owner in tracks_of_faces(result, tracks):
            if owner is None:
                described.append({"track": None, "attributes": None})
                continue
            known = tracks.attributes[owner]
            described.append(
                {
                    "track": int(tracks.ids[owner]),
                    "attributes": None if known == Attributes() else attributes_json(known),
                }
            )
        return described


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
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per frame (JSON Lines), faces with their attributes and track ids",
    )
    parser.add_argument("--config", type=Path, default=None, help="config file (TOML); built-in defaults if omitted")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        pipeline = FacePipeline.from_config(config)
        describer = FaceDescriber(config, video=args.path.suffix.lower() not in IMAGE_SUFFIXES) if args.json else None
    except (ConfigError, ModelError) as exc:
        print(f"signage analyze: {exc}", file=sys.stderr)
        return 2
    started, count = time.perf_counter(), 0
    try:
        for frame in frames_of(args.path):
            if args.max_frames is not None and count >= args.max_frames:
                break
            result = pipeline.analyze(frame)
            count += 1
            if describer is None:
                print(_line(result), flush=True)
                continue
            row = result.to_json()
            for face, extra in zip(row["faces"], describer.describe(frame, result), strict=True):
                face.update(extra)
            print(json.dumps(row), flush=True)
    except SourceError as exc:
        print(f"signage analyze: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"{count} frame(s) in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
