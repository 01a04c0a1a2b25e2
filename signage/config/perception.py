"""[perception]: the ONNX models that find faces and estimate where they look."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class PerceptionConfig(Section):
    models_dir: str = Field(
        default="",
        description="Folder with manifest.json and the ONNX files; empty = the models/ folder shipped with signage.",
    )
    intra_op_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime threads per model call (the other core drives the player)."
    )
    detect_width: int = Field(
        default=320,
        ge=64,
        le=1920,
        description="Frames are scaled to this width for face detection (height follows, padded to a multiple of 32).",
    )
    score_threshold: float = Field(default=0.6, gt=0, lt=1, description="Least detector score for a face to count.")
    nms_iou_threshold: float = Field(
        default=0.3, gt=0, lt=1, description="Overlapping detections above this IoU are merged into the best one."
    )
    max_faces: int = Field(default=32, ge=1, le=1000, description="Most faces kept per frame (highest scores first).")
    min_face_px: float = Field(
        default=16.0, ge=0, le=1000, description="Faces smaller than this (box height in frame pixels) are ignored."
    )
    landmarks: bool = Field(
        default=True, description="Run the face-landmark model on each face for head pose (yaw, pitch, roll)."
    )
    min_landmark_score: float = Field(
        default=0.5, ge=0, le=1, description="Below this landmark-model face score, head pose is unknown (NaN)."
    )
