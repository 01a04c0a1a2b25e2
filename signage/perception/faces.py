"""YuNet face detector (OpenCV model zoo, 2023mar) on onnxruntime, at any frame size.

The frame is scaled to `detect_width` (height in proportion) and padded at the right and bottom to multiples of 32,
the strides the network needs (models/build.py made its input dims symbolic). Decoding follows OpenCV's
FaceDetectorYN: per stride s, anchor (col, row) gives the box centre (col + dx, row + dy) * s and size exp(dw, dh) * s;
score = sqrt(cls * obj). Then score threshold, greedy NMS, top-k, and boxes back in frame pixels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from signage.perception.models import ModelStore
from signage.types import FaceDetections, Frame

MODEL_NAME = "yunet"
STRIDES = (8, 16, 32)


def _pad32(value: int) -> int:
    return max(32, math.ceil(value / 32) * 32)


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices of the kept boxes, best score first. The IoU of every pair is
    computed at once (a few dozen candidates): a box is dropped when a kept, better one overlaps it by more than
    the threshold."""
    order = np.argsort(-scores, kind="stable")
    ranked = boxes[order]
    areas = (ranked[:, 2] - ranked[:, 0]) * (ranked[:, 3] - ranked[:, 1])
    x1 = np.maximum(ranked[:, None, 0], ranked[None, :, 0])
    y1 = np.maximum(ranked[:, None, 1], ranked[None, :, 1])
    x2 = np.minimum(ranked[:, None, 2], ranked[None, :, 2])
    y2 = np.minimum(ranked[:, None, 3], ranked[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    iou = inter / np.maximum(areas[:, None] + areas[None, :] - inter, 1e-9)
    suppresses = ~(iou <= iou_threshold)
    alive = np.ones(len(order), np.bool_)
    keep: list[int] = []
    for rank in range(len(order)):
        if alive[rank]:
            keep.append(int(order[rank]))
            alive &= ~suppresses[rank]
    return keep


class YuNetDetector:
    """`detect(frame) -> FaceDetections`: boxes x1, y1, x2, y2 and five landmarks in frame pixels, scores 0-1."""

    def __init__(
        self,
        *,
        models: ModelStore,
        threads: int = 1,
        detect_width: int = 320,
        score_threshold: float = 0.6,
        nms_iou_threshold: float = 0.3,
        max_faces: int = 32,
        min_face_px: float = 0.0,
    ) -> None:
        self._session = models.session(MODEL_NAME, threads=threads)
        self._input_name = self._session.get_inputs()[0].name
        self._output_names = [o.name for o in self._session.get_outputs()]
        self.model_version = models.specs[MODEL_NAME].version
        self._detect_width = detect_width
        self._score_threshold = score_threshold
        self._nms_iou_threshold = nms_iou_threshold
        self._max_faces = max_faces
        self._min_face_px = min_face_px

    def detect(self, frame: Frame) -> FaceDetections:
        height, width = frame.image.shape[:2]
        scale = self._detect_width / width
        scaled_w, scaled_h = max(1, round(width * scale)), max(1, round(height * scale))
        input_w, input_h = _pad32(scaled_w), _pad32(scaled_h)
        resized = cv2.resize(frame.image, (scaled_w, scaled_h), interpolation=cv2.INTER_LINEAR)
        blob = np.zeros((1, 3, input_h, input_w), np.float32)
        for channel, plane in enumerate(cv2.split(resized)):  # BGR, 0-255, as the model was trained
            blob[0, channel, :scaled_h, :scaled_w] = plane  # plane by plane: contiguous copies, 2x cheaper
        outputs = dict(zip(self._output_names, self._session.run(None, {self._input_name: blob}), strict=True))
        boxes, scores, points = self._decode(outputs, input_w, input_h)
        if len(scores) == 0:
            return FaceDetections.empty()
        keep = nms(boxes, scores, self._nms_iou_threshold)[: self._max_faces]
        boxes, scores, points = boxes[keep] / scale, scores[keep], points[keep] / scale
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        big_enough = (boxes[:, 3] - boxes[:, 1]) >= self._min_face_px
        return FaceDetections(boxes[big_enough], scores[big_enough], points[big_enough])

    def _decode(
        self, outputs: dict[str, npt.NDArray[np.float32]], input_w: int, input_h: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        all_boxes, all_scores, all_points = [], [], []
        for stride in STRIDES:
            cols = input_w // stride
            cls = np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1)
            obj = np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1)
            scores = np.sqrt(cls * obj)
            hits = np.flatnonzero(scores >= self._score_threshold)
            if hits.size == 0:
                continue
            anchor = np.stack([hits % cols, hits // cols], axis=1).astype(np.float32)
            bbox = outputs[f"bbox_{stride}"][0, hits]
            centre = (anchor + bbox[:, :2]) * stride
            size = np.exp(bbox[:, 2:4]) * stride
            all_boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
            kps = outputs[f"kps_{stride}"][0, hits].reshape(-1, 5, 2)
            all_points.append((kps + anchor[:, None, :]) * stride)
            all_scores.append(scores[hits])
        if not all_scores:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32)
        return (
            np.concatenate(all_boxes).astype(np.float32),
            np.concatenate(all_scores).astype(np.float32),
            np.concatenate(all_points).astype(np.float32),
        )
