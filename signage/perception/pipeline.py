"""Frame in, frozen per-face results out: detection → face mesh → head pose → facing.

This is the API the engine wires (with capture and tracking); it knows nothing of tracks, decisions or the store.
Every stage is behind a one-verb Protocol so a test or a cheaper model can stand in for it.
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
from signage.perception.head_pose import facing, head_poses
from signage.perception.landmarks import FaceLandmarker, FaceMeshes
from signage.perception.models import ModelStore, resolve_models_dir
from signage.types import BoolArray, FaceDetections, FloatArray, Frame


class Detector(Protocol):
    def detect(self, frame: Frame) -> FaceDetections: ...


class Landmarker(Protocol):
    def landmark(self, frame: Frame, faces: FaceDetections) -> FaceMeshes: ...


def _frozen(array: Any, dtype: type) -> Any:
    result: Any = np.array(array, dtype=dtype, copy=True)
    result.setflags(write=False)
    return result


@dataclass(frozen=True)
class FaceAnalysis:
    """The faces of one frame, in detection order.

    head_pose (N, 3) is yaw, pitch, roll in degrees (NaN where unknown: no landmarks run, or the mesh score was low;
    conventions in signage/perception/head_pose.py); facing (N,) applies the configured angles; mesh_scores (N,) is
    the landmark model's face score (NaN when it did not run); timings_ms holds each stage's wall time for this frame.
    """

    frame_index: int
    t_mono: float
    detections: FaceDetections
    head_pose: FloatArray
    facing: BoolArray
    mesh_scores: FloatArray
    model_versions: tuple[str, ...]
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.detections)
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

    def __len__(self) -> int:
        return len(self.detections)

    def to_json(self) -> dict[str, Any]:
        """One JSON object: what `signage analyze --json` prints per frame."""

        def number(value: float, digits: int) -> float | None:
            return None if math.isnan(value) else round(float(value), digits)

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
    """`analyze(frame) -> FaceAnalysis`. Landmarks and head pose run on every face found (no tracking yet)."""

    def __init__(
        self,
        *,
        detector: Detector,
        landmarker: Landmarker | None,
        facing_max_yaw_deg: float,
        facing_max_pitch_deg: float,
        min_mesh_score: float = 0.5,
        model_versions: tuple[str, ...] = (),
    ) -> None:
        self._detector = detector
        self._landmarker = landmarker
        self._max_yaw = facing_max_yaw_deg
        self._max_pitch = facing_max_pitch_deg
        self._min_mesh_score = min_mesh_score
        self.model_versions = model_versions

    @classmethod
    def from_config(cls, config: Config) -> FacePipeline:
        """Verify the model files (ModelError names a missing or altered one) and open their sessions."""
        settings = config.perception
        names = ("yunet", "face_landmark") if settings.landmarks else ("yunet",)
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
        return cls(
            detector=detector,
            landmarker=landmarker,
            facing_max_yaw_deg=config.audience.facing_max_yaw_deg,
            facing_max_pitch_deg=config.audience.facing_max_pitch_deg,
            min_mesh_score=settings.min_landmark_score,
            model_versions=tuple(spec.version for spec in models.specs.values()),
        )

    def analyze(self, frame: Frame) -> FaceAnalysis:
        started = time.perf_counter()
        detections = self._detector.detect(frame)
        detected = time.perf_counter()
        timings = {"detect": (detected - started) * 1e3}
        n = len(detections)
        poses = np.full((n, 3), np.nan, np.float32)
        mesh_scores = np.full((n,), np.nan, np.float32)
        if self._landmarker is not None and n:
            meshes = self._landmarker.landmark(frame, detections)
            meshed = time.perf_counter()
            poses = head_poses(meshes.points, meshes.scores, self._min_mesh_score)
            mesh_scores = meshes.scores
            timings["landmarks"] = (meshed - detected) * 1e3
            timings["head_pose"] = (time.perf_counter() - meshed) * 1e3
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
        )
