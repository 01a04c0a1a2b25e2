"""MediaPipe iris landmarks (5 iris points per eye) on onnxruntime, from the eye corners of the face mesh.

The crop follows MediaPipe's iris_landmark graph: a square 2.3x the distance between an eye's two corners, around
their midpoint, rotated so the corners are level, resized to 64x64, RGB 0-1. The model was trained on one eye: the
eye on the image's left (mesh points 33 → 133) goes in as it is, the other (362 → 263) mirrored, and its points are
mirrored back. One model call per eye: batching the eyes of all faces in one call was measured at 5-8% faster (the
model is compute-bound), not worth a batch-dim rewrite of the ONNX file; the two eyes of one face in a batch of 2 were
no faster either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from signage.perception.models import ModelStore
from signage.types import FloatArray, Frame

MODEL_NAME = "iris_landmark"
INPUT_SIZE = 64
CROP_SCALE = 2.3  # MediaPipe's eye-corners-to-ROI scale
# Mesh points of the eye corners, each pair from the image's left to its right: first the eye on the image's left
# (the subject's right eye: outer corner 33, inner 133), then the other (inner 362, outer 263).
EYE_CORNERS = ((33, 133), (362, 263))
MIRRORED = (False, True)
# The model's eye contour starts at the outer corner (point 0) and reaches the inner corner at point 8.
CONTOUR_CORNERS = [0, 8]


def _frozen(array: npt.NDArray[np.float32]) -> FloatArray:
    array = np.array(array, dtype=np.float32, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Irises:
    """Per face, per eye (the image's left eye first): iris centre (N, 2, 2) and the eye corners (N, 2, 2, 2) the
    crop came from, all in frame pixels (corners from the image's left to its right)."""

    centres: FloatArray
    corners: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "centres", _frozen(self.centres))
        object.__setattr__(self, "corners", _frozen(self.corners))
        n = len(self.centres)
        if self.centres.shape != (n, 2, 2):
            raise ValueError(f"Irises.centres: expected shape (N, 2, 2), got {self.centres.shape}")
        if self.corners.shape != (n, 2, 2, 2):
            raise ValueError(f"Irises.corners: expected shape ({n}, 2, 2, 2), got {self.corners.shape}")

    @classmethod
    def empty(cls) -> Irises:
        return cls(np.zeros((0, 2, 2), np.float32), np.zeros((0, 2, 2, 2), np.float32))

    def __len__(self) -> int:
        return len(self.centres)


def eye_transform(start: npt.NDArray[np.float32], end: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """The 2x3 affine map from eye-crop pixels (0-64) to frame pixels, for the eye with these two corners."""
    centre_x, centre_y = (float(start[0]) + float(end[0])) / 2, (float(start[1]) + float(end[1])) / 2
    dx, dy = float(end[0]) - float(start[0]), float(end[1]) - float(start[1])
    scale = CROP_SCALE * max(math.hypot(dx, dy), 1.0) / INPUT_SIZE
    angle = math.atan2(dy, dx)
    a, b = math.cos(angle) * scale, math.sin(angle) * scale
    half = INPUT_SIZE / 2
    return np.array(
        [[a, -b, centre_x - a * half + b * half], [b, a, centre_y - b * half - a * half]],
        dtype=np.float64,
    )


class IrisLandmarker:
    """`locate(frame, mesh_points) -> Irises`: both irises of each face mesh (N, 468, 3), two model calls a face."""

    def __init__(self, *, models: ModelStore, threads: int = 1) -> None:
        self._session = models.session(MODEL_NAME, threads=threads)
        self._input_name = self._session.get_inputs()[0].name
        self._outputs = ["output_eyes_contours_and_brows", "output_iris"]
        self.model_version = models.specs[MODEL_NAME].version

    def locate(self, frame: Frame, mesh_points: npt.NDArray[np.float32]) -> Irises:
        n = len(mesh_points)
        if n == 0:
            return Irises.empty()
        centres = np.zeros((n, 2, 2), np.float32)
        corners = np.zeros((n, 2, 2, 2), np.float32)
        for i, mesh in enumerate(mesh_points):
            for eye, ((start, end), mirrored) in enumerate(zip(EYE_CORNERS, MIRRORED, strict=True)):
                to_frame = eye_transform(mesh[start, :2], mesh[end, :2])
                crop = cv2.warpAffine(  # BGR, channels swapped below: cheaper than a whole-frame cvtColor
                    frame.image,
                    to_frame,
                    (INPUT_SIZE, INPUT_SIZE),
                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                    borderMode=cv2.BORDER_CONSTANT,
                )
                rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
                rgb = np.ascontiguousarray(rgb[:, ::-1]) if mirrored else rgb
                tensor = np.divide(rgb, np.float32(255.0), dtype=np.float32)[None]  # as rgb / 255, in one pass
                contour, iris = self._session.run(self._outputs, {self._input_name: tensor})
                # the iris centre, then the eye's two corners as the model sees them (contour points 0 and 8)
                points = np.concatenate([iris.reshape(-1, 3)[:1, :2], contour.reshape(-1, 3)[CONTOUR_CORNERS, :2]])
                points = points.astype(np.float64)
                if mirrored:
                    points[:, 0] = INPUT_SIZE - points[:, 0]
                    points[1:] = points[[2, 1]]  # keep the corners ordered from the image's left to its right
                in_frame = points @ to_frame[:, :2].T + to_frame[:, 2]
                centres[i, eye] = in_frame[0]
                corners[i, eye] = in_frame[1:]
        return Irises(centres, corners)
