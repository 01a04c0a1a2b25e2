"""Gaze direction from where each iris sits between its eye corners, plus the head pose; and the on-screen decision.

Eye in head: for each eye, the iris centre's offset from the midpoint of the two corners is measured along the
corner line (horizontal) and across it (vertical), in units of the corner distance, so head roll and face size drop
out. An eyeball turns about its centre, so an iris on its surface moves by r sin(angle): with an eye opening of about
30 mm and an eyeball radius of about 12 mm, angle = asin(offset x 30 / 12). Both eyes are averaged (a bias of the
iris towards the nose, which is opposite in the two eyes, cancels). Head yaw and the eye corners turn together, so
gaze = head pose + eye in head.

Conventions follow head_pose.py: horizontal > 0 looks towards the image's right (the person's left), vertical > 0
looks up; (0, 0) looks straight into the camera, which is taken to sit at the screen's centre. A mirrored image flips
the horizontal sign. The head pose reads about 0.9 of a large yaw (head_pose.py, measured on heads rendered at known
angles), so a turned head's gaze is underestimated by about as much.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from signage.types import BoolArray, FloatArray

EYE_OPENING_MM = 30.0
EYEBALL_RADIUS_MM = 12.0
OFFSET_TO_SINE = EYE_OPENING_MM / EYEBALL_RADIUS_MM


def eye_in_head(centres: npt.NDArray[np.float32], corners: npt.NDArray[np.float32]) -> FloatArray:
    """(N, 2) horizontal and vertical angle of the eyes in the head, degrees, from iris centres (N, 2, 2) and eye
    corners (N, 2, 2, 2) (corners from the image's left to its right); NaN where an eye has no width."""
    start, end = corners[:, :, 0].astype(np.float64), corners[:, :, 1].astype(np.float64)
    along = end - start
    width = np.linalg.norm(along, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = along / width[..., None]
        across = np.stack([-unit[..., 1], unit[..., 0]], axis=-1)  # points down the image when the eye is level
        offset = centres.astype(np.float64) - (start + end) / 2
        dx = np.where(width > 1e-6, np.sum(offset * unit, axis=-1) / width, np.nan)
        dy = np.where(width > 1e-6, np.sum(offset * across, axis=-1) / width, np.nan)
    horizontal = np.degrees(np.arcsin(np.clip(dx * OFFSET_TO_SINE, -1, 1)))
    vertical = -np.degrees(np.arcsin(np.clip(dy * OFFSET_TO_SINE, -1, 1)))
    result: FloatArray = np.stack([horizontal.mean(axis=1), vertical.mean(axis=1)], axis=1).astype(np.float32)
    return result


def gaze_angles(head_pose: npt.NDArray[np.float32], eyes: npt.NDArray[np.float32]) -> FloatArray:
    """(N, 2) gaze horizontal, vertical in degrees: head yaw, pitch (N, 3) plus the eyes in the head (N, 2)."""
    result: FloatArray = (head_pose[:, :2].astype(np.float32) + eyes.astype(np.float32)).astype(np.float32)
    return result


def on_screen(gaze: npt.NDArray[np.float32], max_horizontal_deg: float, max_vertical_deg: float) -> BoolArray:
    """True where the gaze falls within both angles of the screen's centre (NaN, an unknown gaze, is off screen)."""
    with np.errstate(invalid="ignore"):
        result: BoolArray = (np.abs(gaze[:, 0]) <= max_horizontal_deg) & (np.abs(gaze[:, 1]) <= max_vertical_deg)
    return result


def angle_for_offset(offset: float) -> float:
    """The eye-in-head angle (degrees) for an iris offset in corner distances: the inverse a test can check."""
    return math.degrees(math.asin(max(-1.0, min(1.0, offset * OFFSET_TO_SINE))))
