"""How a picture is placed on a screen of another shape: letterbox, fill or fit.

- `letterbox`: the whole picture, aspect kept, centred on the dark letterbox colour (bars where shapes differ).
- `fill`: the screen covered, aspect kept, the overflow cropped equally on both sides (no bars, edges lost).
- `fit`: stretched to exactly the screen (no bars, nothing lost, distorted if the shapes differ); for content
  authored for the screen whose size is a few pixels off.

Works on numpy RGB arrays with OpenCV so it can run in a loader thread (cv2 releases the GIL while it resizes).
"""

from __future__ import annotations

import enum

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["LETTERBOX_COLOR", "FitMode", "compose"]

RGBArray = npt.NDArray[np.uint8]

LETTERBOX_COLOR = (18, 18, 24)  # dark but never black: a bar is not a blank screen


class FitMode(enum.StrEnum):
    LETTERBOX = "letterbox"
    FILL = "fill"
    FIT = "fit"


def _resize(image: RGBArray, size: tuple[int, int]) -> RGBArray:
    """Resize to (width, height): area averaging when shrinking (no aliasing), bilinear when enlarging."""
    height, width = image.shape[:2]
    if (width, height) == size:
        return image
    shrinking = size[0] * size[1] < width * height
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return np.asarray(resized, dtype=np.uint8)


def compose(image: RGBArray, screen: tuple[int, int], mode: FitMode) -> RGBArray:
    """The picture placed on a (width, height) screen: a new contiguous (height, width, 3) uint8 array."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"compose: expected an (H, W, 3) image with H, W > 0, got {image.shape}")
    width, height = screen
    src_h, src_w = image.shape[:2]
    if mode is FitMode.FIT:
        return np.ascontiguousarray(_resize(image, (width, height)))
    if mode is FitMode.FILL:
        scale = max(width / src_w, height / src_h)
        scaled_w, scaled_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
        scaled = _resize(image, (scaled_w, scaled_h))
        left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
        return np.ascontiguousarray(scaled[top : top + height, left : left + width])
    scale = min(width / src_w, height / src_h)
    scaled_w, scaled_h = min(width, max(1, round(src_w * scale))), min(height, max(1, round(src_h * scale)))
    if (scaled_w, scaled_h) == (width, height):  # same shape: no bars to draw (the common 16:9 case)
        return np.ascontiguousarray(_resize(image, (width, height)))
    frame = np.empty((height, width, 3), np.uint8)
    frame[:, :] = np.array(LETTERBOX_COLOR, np.uint8)
    left, top = (width - scaled_w) // 2, (height - scaled_h) // 2
    frame[top : top + scaled_h, left : left + scaled_w] = _resize(image, (scaled_w, scaled_h))
    return frame
