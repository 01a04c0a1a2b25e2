"""Aligned face chips from YuNet's five points, for the attribute and re-identification models.

The age and gender networks were trained on dlib face chips (`get_face_chip_details(shape, size, padding=0.2)`, a
similarity transform of dlib's five-point landmarks onto its mean face). YuNet's five points are not dlib's (eye
centres, nose tip and mouth corners instead of eye corners and the base of the nose), so TEMPLATE holds where
YuNet's points land in a dlib chip: measured at build time by running dlib's own chip extraction on the four test
portraits and mapping YuNet's points into those chips (mean over the portraits, spread 0.027 of the chip side),
then made mirror-symmetric. A least-squares similarity transform of the five points onto the template gives the
chip; `scale` < 1 zooms out (more context around the face), > 1 zooms in.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from signage.types import FloatArray

# Where YuNet's points fall in a dlib face chip with padding 0.2, in units of the chip side: the subject's right eye
# (image left), left eye, nose tip, right and left mouth corners.
TEMPLATE: npt.NDArray[np.float32] = np.array(
    [[0.2958, 0.2908], [0.6812, 0.2908], [0.4885, 0.5080], [0.3205, 0.6634], [0.6565, 0.6634]], np.float32
)
TEMPLATE.setflags(write=False)


def similarity_to_chip(points: FloatArray, size: int, scale: float = 1.0) -> npt.NDArray[np.float64]:
    """The 2x3 similarity transform (rotation, uniform scale, shift) from frame pixels to chip pixels.

    Least squares over the five points (Umeyama without reflection), so one badly placed point moves the chip a
    little, not a lot.
    """
    source = np.asarray(points, np.float64).reshape(5, 2)
    target = ((TEMPLATE.astype(np.float64) - 0.5) * scale + 0.5) * size
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - source_mean, target - target_mean
    variance = float((src**2).sum())
    if variance <= 1e-9:
        raise ValueError("face points are all in one place; no chip can be aligned")
    a = float((src * dst).sum()) / variance  # s * cos(angle)
    b = float((src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0]).sum()) / variance  # s * sin(angle)
    rotation = np.array([[a, -b], [b, a]])
    shift = target_mean - rotation @ source_mean
    return np.hstack([rotation, shift[:, None]])


def face_chip(image: npt.NDArray[Any], points: FloatArray, size: int, scale: float = 1.0) -> npt.NDArray[np.uint8]:
    """One aligned size x size chip of `image` (any channel order; the chip keeps it). Borders replicate edges."""
    transform = similarity_to_chip(points, size, scale)
    chip = cv2.warpAffine(image, transform, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(chip, np.uint8)
