"""What the tracker consumes each frame: the bodies and faces perception found, as one frozen columnar value."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from signage.types import FaceDetections, FloatArray, _frozen_array


@dataclass(frozen=True)
class PersonDetections:
    """Bodies (M, 4) and faces (N, 4) found in one frame, boxes as x1, y1, x2, y2 pixels, not yet paired.

    head_pose (N, 3) is yaw, pitch, roll in degrees per face (NaN where unknown); gaze (N, 2) horizontal, vertical
    degrees per face (NaN where the eyes were not measured). Either part may be empty: a body
    detector may not run every frame, and a person close to the screen may show only a face.
    """

    body_boxes: FloatArray
    body_scores: FloatArray
    face_boxes: FloatArray
    face_scores: FloatArray
    head_pose: FloatArray
    gaze: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.gaze is None:
            object.__setattr__(self, "gaze", np.full((len(self.face_boxes), 2), np.nan, np.float32))
        object.__setattr__(self, "gaze", _frozen_array(self.gaze, np.float32, "gaze", (2,)))
        object.__setattr__(self, "body_boxes", _frozen_array(self.body_boxes, np.float32, "body_boxes", (4,)))
        object.__setattr__(self, "body_scores", _frozen_array(self.body_scores, np.float32, "body_scores", ()))
        object.__setattr__(self, "face_boxes", _frozen_array(self.face_boxes, np.float32, "face_boxes", (4,)))
        object.__setattr__(self, "face_scores", _frozen_array(self.face_scores, np.float32, "face_scores", ()))
        object.__setattr__(self, "head_pose", _frozen_array(self.head_pose, np.float32, "head_pose", (3,)))
        if len(self.body_scores) != len(self.body_boxes):
            raise ValueError(
                f"PersonDetections: body_scores has {len(self.body_scores)} rows, body_boxes {len(self.body_boxes)}"
            )
        n = len(self.face_boxes)
        if len(self.face_scores) != n or len(self.head_pose) != n or len(self.face_gaze) != n:
            raise ValueError(
                f"PersonDetections: face columns differ: face_boxes {n}, face_scores {len(self.face_scores)}, "
                f"head_pose {len(self.head_pose)}, gaze {len(self.face_gaze)}"
            )

    @property
    def face_gaze(self) -> FloatArray:
        assert self.gaze is not None  # set in __post_init__
        return self.gaze

    @classmethod
    def empty(cls) -> PersonDetections:
        return cls.build()

    @classmethod
    def build(
        cls,
        *,
        bodies: object = (),
        faces: object = (),
        head_pose: object | None = None,
        body_scores: object | None = None,
        face_scores: object | None = None,
        gaze: object | None = None,
    ) -> PersonDetections:
        """Convenience constructor: scores default to 1, head pose to NaN (unknown)."""
        body_boxes = _boxes(bodies)
        face_boxes = _boxes(faces)
        m, n = len(body_boxes), len(face_boxes)
        return cls(
            body_boxes=body_boxes,
            body_scores=np.ones(m, np.float32) if body_scores is None else np.asarray(body_scores, np.float32),
            face_boxes=face_boxes,
            face_scores=np.ones(n, np.float32) if face_scores is None else np.asarray(face_scores, np.float32),
            head_pose=np.full((n, 3), np.nan, np.float32) if head_pose is None else np.asarray(head_pose, np.float32),
            gaze=None if gaze is None else np.asarray(gaze, np.float32),
        )

    @classmethod
    def from_faces(
        cls, faces: FaceDetections, head_pose: FloatArray | None = None, gaze: FloatArray | None = None
    ) -> PersonDetections:
        return cls.build(faces=faces.boxes, face_scores=faces.scores, head_pose=head_pose, gaze=gaze)

    def with_bodies(self, boxes: object, scores: object) -> PersonDetections:
        """A new value with these bodies (M, 4) and scores (M,) in place of the current ones; faces kept."""
        body_boxes = _boxes(boxes)
        return replace(self, body_boxes=body_boxes, body_scores=np.asarray(scores, np.float32).reshape(len(body_boxes)))

    @property
    def body_count(self) -> int:
        return len(self.body_boxes)

    @property
    def face_count(self) -> int:
        return len(self.face_boxes)


def _boxes(value: object) -> FloatArray:
    boxes: FloatArray = np.asarray(value, np.float32)
    return boxes.reshape(0, 4) if boxes.size == 0 else boxes
