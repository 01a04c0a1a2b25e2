"""Box geometry for the tracker: vectorised IoU, containment, and the body a face implies."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Boxes = npt.NDArray[np.float64]
AnyBoxes = npt.NDArray[np.floating[Any]]  # float32 from a detector, float64 from the tracker

# Proportions of an adult seen from the front: a face box is about a third of the shoulder width and an eighth
# of the standing height; the head starts a quarter of a face above the face box.
BODY_WIDTH_PER_FACE = 3.0
BODY_HEIGHT_PER_FACE = 7.5
HEAD_ABOVE_FACE = 0.25
HEAD_SHARE_OF_BODY = 0.3  # the top share of a body box where its face is looked for


def iou(a: AnyBoxes, b: AnyBoxes) -> Boxes:
    """Pairwise intersection over union of x1, y1, x2, y2 boxes, (len(a), len(b)); 0 where a box has no area."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    result: Boxes = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    return result


def greedy_matches(a: AnyBoxes, b: AnyBoxes, min_iou: float) -> list[tuple[int, int]]:
    """One-to-one pairs (index in a, index in b), the best IoU first, down to `min_iou`."""
    if len(a) == 0 or len(b) == 0:
        return []
    overlap = iou(a, b)
    pairs: list[tuple[int, int]] = []
    while True:
        i, j = np.unravel_index(int(np.argmax(overlap)), overlap.shape)
        if overlap[i, j] < min_iou:
            return pairs
        pairs.append((int(i), int(j)))
        overlap[i, :] = -1
        overlap[:, j] = -1


def containment(inner: Boxes, outer: Boxes) -> Boxes:
    """Pairwise share of each inner box's area inside each outer box, (len(inner), len(outer))."""
    if len(inner) == 0 or len(outer) == 0:
        return np.zeros((len(inner), len(outer)))
    x1 = np.maximum(inner[:, None, 0], outer[None, :, 0])
    y1 = np.maximum(inner[:, None, 1], outer[None, :, 1])
    x2 = np.minimum(inner[:, None, 2], outer[None, :, 2])
    y2 = np.minimum(inner[:, None, 3], outer[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (inner[:, 2] - inner[:, 0]) * (inner[:, 3] - inner[:, 1])
    result: Boxes = inter / np.maximum(area[:, None], 1e-9)
    return result


def head_regions(bodies: Boxes) -> Boxes:
    """The top of each body box, where its face should be."""
    heads = bodies.copy()
    heads[:, 3] = bodies[:, 1] + HEAD_SHARE_OF_BODY * (bodies[:, 3] - bodies[:, 1])
    return heads


def body_from_face(face: Boxes) -> Boxes:
    """The body box a face box implies, (N, 4), for people whose body was not detected."""
    fw = face[:, 2] - face[:, 0]
    fh = face[:, 3] - face[:, 1]
    cx = (face[:, 0] + face[:, 2]) / 2
    top = face[:, 1] - HEAD_ABOVE_FACE * fh
    half_w = BODY_WIDTH_PER_FACE * fw / 2
    return np.stack([cx - half_w, top, cx + half_w, top + BODY_HEIGHT_PER_FACE * fh], axis=1)


def centres(boxes: Boxes) -> Boxes:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
