"""Frame in, frozen per-face results out: detection → face mesh → head pose → facing → irises → gaze → on screen.

This is the API the engine wires (with capture and tracking); it knows nothing of tracks, decisions or the store.
Every stage is behind a one-verb Protocol so a test or a cheaper model can stand in for it. `FacePipeline` is the
naive schedule (every model on every face every frame); signage/perception/scheduler.py has the one the engine runs,
with the same result type.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from signage.config import Config
from signage.perception.faces import YuNetDetector
from signage.perception.gaze import eye_in_head, gaze_angles, on_screen
from signage.perception.head_pose import facing, head_poses
from signage.perception.iris import Irises, IrisLandmarker
from signage.perception.landmarks import FaceLandmarker, FaceMeshes
from signage.perception.models import ModelStore, resolve_models_dir
from signage.types import BoolArray, FaceDetections, FloatArray, Frame


class Detector(Protocol):
    def detect(self, frame: Frame) -> FaceDetections: ...


class Landmarker(Protocol):
    def landmark(self, frame: Frame, faces: FaceDetections) -> FaceMeshes: ...


class IrisLocator(Protocol):
    def locate(self, frame: Frame, mesh_points: FloatArray) -> Irises: ...


def _frozen(array: Any, dtype: type) -> Any:
    result: Any = np.array(array, dtype=dtype, copy=True)
    result.setflags(write=False)
    return result


@dataclass(frozen=True)
class FaceAnalysis:
    """The faces of one frame, in detection order.

    head_pose (N, 3) is yaw, pitch, roll in degrees (NaN where unknown: no landmarks run, or the mesh score was low;
    conventions in signage/perception/head_pose.py); facing (N,) applies the configured angles; mesh_scores (N,) is
    the landmark model's face score (NaN when it did not run); gaze (N, 2) is horizontal, vertical in degrees (NaN
    where the irises were not measured; conventions in signage/perception/gaze.py) and on_screen (N,) applies the
    configured screen angles to it; timings_ms holds each stage's wall time for this frame.
    """

    frame_index: int
    t_mono: float
    detections: FaceDetections
    head_pose: FloatArray
    facing: BoolArray
    mesh_scores: FloatArray
    model_versions: tuple[str, ...]
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    gaze: FloatArray | None = None
    on_screen: BoolArray | None = None

    def __post_init__(self) -> None:
        n = len(self.detections)
        gaze = _frozen(np.full((n, 2), np.nan) if self.gaze is None else self.gaze, np.float32)
        looking = _frozen(np.zeros((n,)) if self.on_screen is None else self.on_screen, np.bool_)
        object.__setattr__(self, "gaze", gaze)
        object.__setattr__(self, "on_screen", looking)
        object.__setattr__(self, "head_pose", _frozen(self.head_pose, np.float32))
        object.__setattr__(self, "facing", _frozen(self.facing, np.bool_))
        object.__setattr__(self, "mesh_scores", _frozen(self.mesh_scores, np.float32))
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))
        if self.head_pose.shape != (n, 3):
            raise ValueError(f"FaceAnalysis.head_pose: expected shape ({n}, 3), got {self.head_pose.shape}")
        if self.facing.shape != (n,) or self.mesh_scores.shape != (n,):
            raise ValueError(
                f"FaceAnalysis: expected ({n},) facing and mesh_scores, got {self.facing.shape}, "
                f"{self.mesh_scores.shape}"
            )
        if gaze.shape != (n, 2) or looking.shape != (n,):
            raise ValueError(
                f"FaceAnalysis: expected gaze ({n}, 2) and on_screen ({n},), got {gaze.shape}, {looking.shape}"
            )

    def __len__(self) -> int:
        return len(self.detections)

    def to_json(self) -> dict[str, Any]:
        """One JSON object: what `signage analyze --json` prints per frame."""

        def number(value: float, digits: int) -> float | None:
            return None if math.isnan(value) else round(float(value), digits)

        gaze = np.full((len(self), 2), np.nan) if self.gaze is None else self.gaze
        looking = np.zeros((len(self),), np.bool_) if self.on_screen is None else self.on_screen
        faces = []
        for i in range(len(self)):
            yaw, pitch, roll = (number(v, 1) for v in self.head_pose[i])
            faces.append(
                {
                    "box": [round(float(v), 1) for v in self.detections.boxes[i]],
                    "score": round(float(self.detections.scores[i]), 3),
                    "landmarks5": [[round(float(x), 1), round(float(y), 1)] for x, y in self.detections.landmarks[i]],
                    "yaw": yaw,
                    "pitch": pitch,
                    "roll": roll,
                    "facing": bool(self.facing[i]),
                    "mesh_score": number(self.mesh_scores[i], 3),
                    "gaze": None if np.isnan(gaze[i]).any() else [number(v, 1) for v in gaze[i]],
                    "on_screen": bool(looking[i]),
                }
            )
        return {
            "frame": self.frame_index,
            "t": round(self.t_mono, 3),
            "faces": faces,
            "models": list(self.model_versions),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class FacePipeline:
    """`analyze(frame) -> FaceAnalysis`, the naive schedule: detection, landmarks, head pose and both irises on every
    face of every frame. The reference the scheduler is measured against, and the simplest thing for one image."""

    def __init__(
        self,
        *,
        detector: Detector,
        landmarker: Landmarker | None,
        facing_max_yaw_deg: float,
        facing_max_pitch_deg: float,
        min_mesh_score: float = 0.5,
        model_versions: tuple[str, ...] = (),
        irises: IrisLocator | None = None,
        on_screen_max_horizontal_deg: float = 20.0,
        on_screen_max_vertical_deg: float = 15.0,
    ) -> None:
        self._detector = detector
        self._landmarker = landmarker
        self._irises = irises
        self._on_screen_h = on_screen_max_horizontal_deg
        self._on_screen_v = on_screen_max_vertical_deg
        self._max_yaw = facing_max_yaw_deg
        self._max_pitch = facing_max_pitch_deg
        self._min_mesh_score = min_mesh_score
        self.model_versions = model_versions

    @classmethod
    def from_config(cls, config: Config) -> FacePipeline:
        """Verify the model files (ModelError names a missing or altered one) and open their sessions."""
        settings = config.perception
        names = model_names(config)
        models = ModelStore.load(resolve_models_dir(settings.models_dir), names=names)
        detector = YuNetDetector(
            models=models,
            threads=settings.intra_op_threads,
            detect_width=settings.detect_width,
            score_threshold=settings.score_threshold,
            nms_iou_threshold=settings.nms_iou_threshold,
            max_faces=settings.max_faces,
            min_face_px=settings.min_face_px,
        )
        landmarker = FaceLandmarker(models=models, threads=settings.intra_op_threads) if settings.landmarks else None
        irises = IrisLandmarker(models=models, threads=settings.intra_op_threads) if "iris_landmark" in names else None
        return cls(
            detector=detector,
            landmarker=landmarker,
            facing_max_yaw_deg=config.audience.facing_max_yaw_deg,
            facing_max_pitch_deg=config.audience.facing_max_pitch_deg,
            min_mesh_score=settings.min_landmark_score,
            model_versions=tuple(spec.version for spec in models.specs.values()),
            irises=irises,
            on_screen_max_horizontal_deg=settings.gaze_on_screen_max_horizontal_deg,
            on_screen_max_vertical_deg=settings.gaze_on_screen_max_vertical_deg,
        )

    def analyze(self, frame: Frame) -> FaceAnalysis:
        started = time.perf_counter()
        detections = self._detector.detect(frame)
        detected = time.perf_counter()
        timings = {"detect": (detected - started) * 1e3}
        n = len(detections)
        poses = np.full((n, 3), np.nan, np.float32)
        mesh_scores = np.full((n,), np.nan, np.float32)
        gaze = np.full((n, 2), np.nan, np.float32)
        if self._landmarker is not None and n:
            meshes = self._landmarker.landmark(frame, detections)
            meshed = time.perf_counter()
            poses = head_poses(meshes.points, meshes.scores, self._min_mesh_score)
            mesh_scores = meshes.scores
            timings["landmarks"] = (meshed - detected) * 1e3
            posed = time.perf_counter()
            timings["head_pose"] = (posed - meshed) * 1e3
            valid = np.flatnonzero(~np.isnan(poses[:, 0]))
            if self._irises is not None and valid.size:
                irises = self._irises.locate(frame, meshes.points[valid])
                gaze[valid] = gaze_angles(poses[valid], eye_in_head(irises.centres, irises.corners))
                timings["iris"] = (time.perf_counter() - posed) * 1e3
        timings["total"] = (time.perf_counter() - started) * 1e3
        return FaceAnalysis(
            frame_index=frame.index,
            t_mono=frame.t_mono,
            detections=detections,
            head_pose=poses,
            facing=facing(poses, self._max_yaw, self._max_pitch),
            mesh_scores=mesh_scores,
            model_versions=self.model_versions,
            timings_ms=timings,
            gaze=gaze,
            on_screen=on_screen(gaze, self._on_screen_h, self._on_screen_v),
        )


def model_names(config: Config) -> tuple[str, ...]:
    """The models a config needs: the detector always, the face mesh for head pose, the iris model for gaze."""
    settings = config.perception
    if not settings.landmarks:
        return ("yunet",)
    return ("yunet", "face_landmark", "iris_landmark") if settings.gaze else ("yunet", "face_landmark")
