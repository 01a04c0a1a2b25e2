"""Head pose (yaw, pitch, roll in degrees) from the 3D face mesh, and the facing-the-screen decision.

The face mesh gives every point as x, y in pixels and z, a relative depth in the same scale. The head's axes are read
off it directly: x from the right cheek edge to the left (mesh points 234 → 454), y from the top of the forehead to
the chin (10 → 152) made orthogonal to x, z their cross product. This needs no camera calibration and no generic 3D
face; a solvePnP fit of six points to the usual generic anthropometric face was tried first and read frontal
portraits as 16-35° pitched down (that model's nose sits higher than MediaPipe's), so it was dropped.

Conventions (the camera looks at the person; the screen is next to the camera):
- yaw > 0: the face turns towards the image's right (the person's left); a mirrored image flips its sign.
- pitch > 0: the face tilts up.
- roll > 0: the head tilts clockwise as the image is seen (the person's left eye lower than their right).
All three are 0 for a face looking straight into the camera. The mesh's depth is flatter than a real head, so large
yaw is underestimated (a portrait turned about 15-20° reads about 10°); the facing decision sits well inside that.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from signage.types import BoolArray, FloatArray

RIGHT_CHEEK, LEFT_CHEEK, FOREHEAD, CHIN = 234, 454, 10, 152


def rotation_from_angles(yaw_deg: float, pitch_deg: float, roll_deg: float) -> npt.NDArray[np.float64]:
    """The rotation (face to camera axes) for angles in this module's convention: R = Rz(roll) Ry(-yaw) Rx(-pitch)."""
    y, p, r = (math.radians(v) for v in (-yaw_deg, -pitch_deg, roll_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    result: npt.NDArray[np.float64] = rz @ ry @ rx
    return result


def angles_from_rotation(rotation: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Inverse of rotation_from_angles: (yaw, pitch, roll) in degrees."""
    y = math.asin(max(-1.0, min(1.0, -rotation[2, 0])))
    p = math.atan2(rotation[2, 1], rotation[2, 2])
    r = math.atan2(rotation[1, 0], rotation[0, 0])
    return -math.degrees(y), -math.degrees(p), math.degrees(r)


def head_pose(mesh: npt.NDArray[np.float32]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from one face mesh (468, 3)."""
    points = mesh.astype(np.float64)
    x_axis = points[LEFT_CHEEK] - points[RIGHT_CHEEK]
    y_axis = points[CHIN] - points[FOREHEAD]
    x_norm = np.linalg.norm(x_axis)
    if x_norm < 1e-6:
        return math.nan, math.nan, math.nan
    x_axis /= x_norm
    y_axis -= x_axis * float(y_axis @ x_axis)
    y_norm = np.linalg.norm(y_axis)
    if y_norm < 1e-6:
        return math.nan, math.nan, math.nan
    y_axis /= y_norm
    rotation = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)
    return angles_from_rotation(rotation)


def head_poses(mesh_points: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], min_score: float) -> FloatArray:
    """(N, 3) yaw, pitch, roll for each mesh; NaN where the mesh score is below min_score."""
    poses = np.full((len(mesh_points), 3), np.nan, np.float32)
    for i, (points, score) in enumerate(zip(mesh_points, scores, strict=True)):
        if score >= min_score:
            poses[i] = head_pose(points)
    return poses


def facing(poses: npt.NDArray[np.float32], max_yaw_deg: float, max_pitch_deg: float) -> BoolArray:
    """True where the face is turned to the screen within both angles (NaN, an unknown pose, is not facing)."""
    with np.errstate(invalid="ignore"):
        result: BoolArray = (np.abs(poses[:, 0]) <= max_yaw_deg) & (np.abs(poses[:, 1]) <= max_pitch_deg)
    return result
