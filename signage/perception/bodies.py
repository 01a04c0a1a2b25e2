"""Bodies: people whose face is not seen (back turned, walking past, face hidden) still count.

`BodyDetector.detect(frame) -> BodyDetections` runs MoveNet MultiPose Lightning (Google, Apache-2.0; see
models/manifest.json) on onnxruntime: up to 6 people per frame, each with a box, a score and the 17 COCO keypoints
(the subject's left before their right) with scores. The frame is scaled so its longer side is `input_long_side`
(256 is what the model was trained for) and padded at the right and bottom to multiples of 32.

From the keypoints, `facing_from_keypoints` says whether a body faces the camera: FACING when nose and both eyes
are clearly seen (SIDE when the nose sticks out past the eyes, as in a profile), SIDE when only nose and one eye are,
BACK when the face is not seen but shoulders or ears are, UNKNOWN otherwise. Face points are the cue that counts;
the shoulder order (the subject's left shoulder on the image's right when they face the camera) is offered by
`shoulders_frontal` but does not decide: a pose model may keep a frontal left/right order on a back view, and no
back-view photo in the tests shows otherwise.

The model costs about 7 YuNet face detections (roughly 15-20 ms at 256x192 on one core of a quiet machine), so it
does not run every frame: `BodySchedule` runs it every `every_n_frames` frames and, in between, carries the bodies
of its last run that had no face on them forward at their measured speed. Bodies with a face on them are left out
altogether: the face detector, which runs every frame, already stands for those people (the tracker implies their
body from the face), and a portrait-like close-up, where the face sits below the top of the body box, would
otherwise count as two people. What bodies add to the tracker is exactly the people the face detector cannot see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from signage.config import Config
from signage.perception.faces import nms
from signage.perception.models import ModelStore, resolve_models_dir
from signage.types import FloatArray, Frame, _frozen_array

MODEL_NAME = "movenet_multipose"
KEYPOINTS = 17
MAX_PEOPLE = 6  # the model's fixed output rows
STRIDE = 32
DUPLICATE_IOU = 0.6  # the model suppresses duplicates itself; this only catches the odd leftover pair
# A profile: the nose lies outside the span between the eyes by more than this share of the eye distance.
PROFILE_NOSE_OUTSIDE = 0.15
MATCH_IOU = 0.3  # a body of one run is the same person as a body of the run before when they overlap this much
FACE_MIN_SCORE = 0.52  # least mean nose and eye score for the face to count as seen (facing_from_keypoints)


class Keypoint(IntEnum):
    """The 17 COCO keypoints in MoveNet's order; left and right are the subject's own."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


# Keypoint i of a mirrored image is keypoint MIRRORED[i] of the original (left and right swap, the nose stays).
MIRRORED = tuple(
    Keypoint[name.replace("LEFT", "RIGHT")]
    if name.startswith("LEFT")
    else Keypoint[name.replace("RIGHT", "LEFT")]
    if name.startswith("RIGHT")
    else Keypoint[name]
    for name in Keypoint.__members__
)


class Facing(StrEnum):
    FACING = "facing"  # the face is turned to the camera (nose and both eyes seen)
    SIDE = "side"  # a profile, or only part of the face seen
    BACK = "back"  # no face point seen, but shoulders or ears are: the back of the head
    UNKNOWN = "unknown"  # too little of the body seen to tell


@dataclass(frozen=True)
class BodyDetections:
    """People found in one frame: boxes (N, 4) x1, y1, x2, y2 and keypoints (N, 17, 2) x, y in frame pixels, scores
    (N,) and keypoint scores (N, 17) in 0-1, and a facing decision per person."""

    boxes: FloatArray
    scores: FloatArray
    keypoints: FloatArray
    keypoint_scores: FloatArray
    facing: tuple[Facing, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", _frozen_array(self.boxes, np.float32, "boxes", (4,)))
        object.__setattr__(self, "scores", _frozen_array(self.scores, np.float32, "scores", ()))
        object.__setattr__(self, "keypoints", _frozen_array(self.keypoints, np.float32, "keypoints", (KEYPOINTS, 2)))
        object.__setattr__(
            self, "keypoint_scores", _frozen_array(self.keypoint_scores, np.float32, "keypoint_scores", (KEYPOINTS,))
        )
        object.__setattr__(self, "facing", tuple(Facing(f) for f in self.facing))
        n = len(self.boxes)
        sizes = (len(self.scores), len(self.keypoints), len(self.keypoint_scores), len(self.facing))
        if any(size != n for size in sizes):
            raise ValueError(
                f"BodyDetections: columns differ: boxes {n}, scores, keypoints, keypoint_scores, facing {sizes}"
            )

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> BodyDetections:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            keypoints=np.zeros((0, KEYPOINTS, 2), np.float32),
            keypoint_scores=np.zeros((0, KEYPOINTS), np.float32),
            facing=(),
        )

    def select(self, mask: npt.NDArray[np.bool_]) -> BodyDetections:
        """A new value with the people where `mask` is true."""
        mask = np.asarray(mask, np.bool_)
        if mask.shape != (len(self),):
            raise ValueError(f"BodyDetections.select: expected a mask of shape ({len(self)},), got {mask.shape}")
        return BodyDetections(
            boxes=self.boxes[mask],
            scores=self.scores[mask],
            keypoints=self.keypoints[mask],
            keypoint_scores=self.keypoint_scores[mask],
            facing=tuple(f for f, keep in zip(self.facing, mask.tolist(), strict=True) if keep),
        )

    def shifted(self, offsets: FloatArray) -> BodyDetections:
        """A new value with each person's box and keypoints moved by their offset (N, 2), x and y in pixels."""
        offsets = np.asarray(offsets, np.float32).reshape(len(self), 2)
        return BodyDetections(
            boxes=self.boxes + np.tile(offsets, 2),
            scores=self.scores,
            keypoints=self.keypoints + offsets[:, None, :],
            keypoint_scores=self.keypoint_scores,
            facing=self.facing,
        )

    def shoulders_frontal(self, min_score: float) -> npt.NDArray[np.bool_]:
        """Per person: both shoulders seen with the subject's left on the image's right (as when facing us)."""
        left, right = self.keypoints[:, Keypoint.LEFT_SHOULDER, 0], self.keypoints[:, Keypoint.RIGHT_SHOULDER, 0]
        seen = (self.keypoint_scores[:, Keypoint.LEFT_SHOULDER] >= min_score) & (
            self.keypoint_scores[:, Keypoint.RIGHT_SHOULDER] >= min_score
        )
        result: npt.NDArray[np.bool_] = seen & (left > right)
        return result


def facing_from_keypoints(
    points: FloatArray, scores: FloatArray, *, min_score: float, face_min_score: float = FACE_MIN_SCORE
) -> Facing:
    """FACING, SIDE, BACK or UNKNOWN for one person's keypoints (17, 2) and their scores (17,).

    The face counts as seen when the mean score of nose and both eyes reaches `face_min_score` and each of them
    reaches `min_score`. The mean is the steadier cue: on the back of a head MoveNet still guesses face points, at
    a mean of at most 0.46 on the test photos (single points up to 0.48), while faces that are seen average 0.57 and
    more (single points down to 0.47).
    """
    face = scores[[Keypoint.NOSE, Keypoint.LEFT_EYE, Keypoint.RIGHT_EYE]]
    if float(face.mean()) >= face_min_score and bool((face >= min_score).all()):
        eyes_x = sorted((float(points[Keypoint.LEFT_EYE, 0]), float(points[Keypoint.RIGHT_EYE, 0])))
        margin = PROFILE_NOSE_OUTSIDE * max(eyes_x[1] - eyes_x[0], 1.0)
        nose_x = float(points[Keypoint.NOSE, 0])
        profile = nose_x < eyes_x[0] - margin or nose_x > eyes_x[1] + margin
        return Facing.SIDE if profile else Facing.FACING
    if int((face >= face_min_score).sum()) >= 2:  # nose and one eye clearly seen: a profile
        return Facing.SIDE
    back_cues = (Keypoint.LEFT_SHOULDER, Keypoint.RIGHT_SHOULDER, Keypoint.LEFT_EAR, Keypoint.RIGHT_EAR)
    return Facing.BACK if any(bool(scores[k] >= min_score) for k in back_cues) else Facing.UNKNOWN


class BodyDetecting(Protocol):
    def detect(self, frame: Frame) -> BodyDetections: ...


class BodyDetector:
    """`detect(frame) -> BodyDetections` with MoveNet MultiPose Lightning on onnxruntime."""

    def __init__(
        self,
        *,
        models: ModelStore,
        threads: int = 1,
        input_long_side: int = 256,
        min_score: float = 0.2,
        keypoint_min_score: float = 0.3,
        face_min_score: float = FACE_MIN_SCORE,
    ) -> None:
        if input_long_side % STRIDE:
            raise ValueError(f"BodyDetector: input_long_side must be a multiple of {STRIDE}, got {input_long_side}")
        self._session = models.session(MODEL_NAME, threads=threads)
        self._input_name = self._session.get_inputs()[0].name
        self.model_version = models.specs[MODEL_NAME].version
        self._long_side = input_long_side
        self._min_score = min_score
        self.keypoint_min_score = keypoint_min_score
        self._face_min_score = face_min_score

    @classmethod
    def from_config(cls, config: Config) -> BodyDetector:
        settings = config.perception
        models = ModelStore.load(resolve_models_dir(settings.models_dir), names=(MODEL_NAME,))
        return cls(
            models=models,
            threads=settings.intra_op_threads,
            input_long_side=settings.body_input_long_side,
            min_score=settings.body_min_score,
            keypoint_min_score=settings.body_keypoint_min_score,
            face_min_score=settings.body_face_min_score,
        )

    def detect(self, frame: Frame) -> BodyDetections:
        height, width = frame.image.shape[:2]
        scale = self._long_side / max(height, width)
        scaled_w, scaled_h = max(1, round(width * scale)), max(1, round(height * scale))
        input_w = max(STRIDE, math.ceil(scaled_w / STRIDE) * STRIDE)
        input_h = max(STRIDE, math.ceil(scaled_h / STRIDE) * STRIDE)
        resized = cv2.resize(frame.image, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA)
        blob = np.zeros((1, input_h, input_w, 3), np.int32)
        blob[0, :scaled_h, :scaled_w] = resized[:, :, ::-1]  # RGB, 0-255, as the model was trained
        (people,) = self._session.run(None, {self._input_name: blob})
        rows = np.asarray(people, np.float32).reshape(MAX_PEOPLE, KEYPOINTS * 3 + 5)
        rows = rows[rows[:, -1] >= self._min_score]
        if len(rows) == 0:
            return BodyDetections.empty()
        # Model coordinates are 0-1 of the padded input, y before x.
        to_frame = np.array([input_w / scale, input_h / scale], np.float32)
        keypoints = rows[:, : KEYPOINTS * 3].reshape(-1, KEYPOINTS, 3)
        points = keypoints[:, :, [1, 0]] * to_frame
        point_scores = keypoints[:, :, 2]
        ymin, xmin, ymax, xmax = (rows[:, KEYPOINTS * 3 + i] for i in range(4))
        boxes = np.stack([xmin, ymin, xmax, ymax], axis=1) * np.tile(to_frame, 2)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        scores = rows[:, -1]
        keep = nms(boxes, scores, DUPLICATE_IOU)
        facing = tuple(
            facing_from_keypoints(
                points[i], point_scores[i], min_score=self.keypoint_min_score, face_min_score=self._face_min_score
            )
            for i in keep
        )
        return BodyDetections(
            boxes=boxes[keep],
            scores=scores[keep],
            keypoints=points[keep],
            keypoint_scores=point_scores[keep],
            facing=facing,
        )


def faces_on_bodies(bodies: BodyDetections, face_boxes: FloatArray, min_score: float) -> npt.NDArray[np.bool_]:
    """Per body: does one of the face boxes sit on it? A face belongs to a body when the face's centre lies inside
    the body box, above its shoulders (the mean height of the shoulders seen; the top half of the box if none is
    seen), or when the face box holds the body's nose or an eye."""
    if len(bodies) == 0 or len(face_boxes) == 0:
        return np.zeros(len(bodies), np.bool_)
    faces = np.asarray(face_boxes, np.float32).reshape(-1, 4)
    cx, cy = (faces[:, 0] + faces[:, 2]) / 2, (faces[:, 1] + faces[:, 3]) / 2
    boxes = bodies.boxes
    shoulder_ids = [Keypoint.LEFT_SHOULDER, Keypoint.RIGHT_SHOULDER]
    shoulder_seen = bodies.keypoint_scores[:, shoulder_ids] >= min_score
    shoulder_y = bodies.keypoints[:, shoulder_ids, 1]
    seen_count = shoulder_seen.sum(axis=1)
    mean_shoulder_y = np.where(shoulder_seen, shoulder_y, 0.0).sum(axis=1) / np.maximum(seen_count, 1)
    line = np.where(seen_count > 0, mean_shoulder_y, (boxes[:, 1] + boxes[:, 3]) / 2)
    centre_on = (
        (cx[None, :] >= boxes[:, None, 0])
        & (cx[None, :] <= boxes[:, None, 2])
        & (cy[None, :] >= boxes[:, None, 1])
        & (cy[None, :] <= line[:, None])
    )
    face_ids = [Keypoint.NOSE, Keypoint.LEFT_EYE, Keypoint.RIGHT_EYE]
    px, py = bodies.keypoints[:, face_ids, 0], bodies.keypoints[:, face_ids, 1]  # (N, 3)
    point_seen = bodies.keypoint_scores[:, face_ids] >= min_score
    holds = (
        point_seen[:, :, None]
        & (px[:, :, None] >= faces[None, None, :, 0])
        & (px[:, :, None] <= faces[None, None, :, 2])
        & (py[:, :, None] >= faces[None, None, :, 1])
        & (py[:, :, None] <= faces[None, None, :, 3])
    ).any(axis=1)
    result: npt.NDArray[np.bool_] = np.asarray((centre_on | holds).any(axis=1), np.bool_)
    return result


class BodySchedule:
    """`faceless_bodies(frame, face_boxes)` once per frame: the bodies with no face on them, for the tracker.

    The detector runs on the first frame and then every `every_n_frames` frames. In between, the faceless bodies of
    its last run are carried forward at the speed each had between the last two runs (a body matched to one of the
    run before by overlap; unmatched bodies stand still), so a back-turned person walking past moves smoothly and
    the tracker sees their direction; a body a face has appeared on (the person turned round: the face now stands
    for them) is left out. `every_n_frames = 1` runs it on every frame.
    """

    def __init__(self, detector: BodyDetecting, *, every_n_frames: int, keypoint_min_score: float = 0.3) -> None:
        if every_n_frames < 1:
            raise ValueError(f"BodySchedule: every_n_frames must be >= 1, got {every_n_frames}")
        self._detector = detector
        self._every = every_n_frames
        self._min_score = keypoint_min_score
        self._calls = 0
        self._run = BodyDetections.empty()  # the faceless bodies of the last run ...
        self._run_t = 0.0  # ... the time of its frame ...
        self._velocity: FloatArray = np.zeros((0, 2), np.float32)  # ... and their speed, pixels per second
        self.runs = 0  # how often the detector ran (the benchmark and tests read it)

    def faceless_bodies(self, frame: Frame, face_boxes: FloatArray) -> BodyDetections:
        due = self._calls % self._every == 0
        self._calls += 1
        if due:
            self.runs += 1
            found = self._detector.detect(frame)
            faceless = found.select(~faces_on_bodies(found, face_boxes, self._min_score))
            self._velocity = _velocities(self._run, faceless, frame.t_mono - self._run_t)
            self._run, self._run_t = faceless, frame.t_mono
            return faceless
        carried = self._run.shifted(self._velocity * np.float32(frame.t_mono - self._run_t))
        return carried.select(~faces_on_bodies(carried, face_boxes, self._min_score))


def _velocities(before: BodyDetections, after: BodyDetections, dt: float) -> FloatArray:
    """Per body of `after`: its centre's speed since the body of `before` it overlaps most (IoU >= 0.3), else 0."""
    velocity = np.zeros((len(after), 2), np.float32)
    if len(before) == 0 or len(after) == 0 or dt <= 0:
        return velocity
    a, b = after.boxes[:, None, :], before.boxes[None, :, :]
    inter_w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    inter_h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    overlap = inter / np.maximum(area_a + area_b - inter, 1e-9)
    taken: set[int] = set()
    for i in np.argsort(-overlap.max(axis=1), kind="stable").tolist():  # the clearest matches first
        free = [j for j in np.argsort(-overlap[i], kind="stable").tolist() if j not in taken]
        if free and overlap[i, free[0]] >= MATCH_IOU:
            j = free[0]
            taken.add(j)
            centre_after = (after.boxes[i, :2] + after.boxes[i, 2:]) / 2
            centre_before = (before.boxes[j, :2] + before.boxes[j, 2:]) / 2
            velocity[i] = (centre_after - centre_before) / dt
    return velocity


def body_schedule_from_config(config: Config) -> BodySchedule | None:
    """The body schedule `[perception]` asks for (model loaded, hash checked), or None when bodies are off."""
    settings = config.perception
    if not settings.bodies:
        return None
    return BodySchedule(
        BodyDetector.from_config(config),
        every_n_frames=settings.body_every_n_frames,
        keypoint_min_score=settings.body_keypoint_min_score,
    )
