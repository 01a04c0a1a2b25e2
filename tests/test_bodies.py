"""Bodies on real photos: MoveNet MultiPose finds people with and without a visible face, tells facing from back
turned, and hands the tracker the people the face detector cannot see."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from signage.audience.stage import AudienceStage
from signage.capture import open_camera
from signage.clock import SystemClock
from signage.config import CaptureConfig, Config
from signage.live import LiveSource
from signage.perception.bodies import (
    KEYPOINTS,
    MIRRORED,
    BodyDetections,
    BodyDetector,
    BodySchedule,
    Facing,
    Keypoint,
    body_schedule_from_config,
    faces_on_bodies,
    facing_from_keypoints,
)
from signage.perception.faces import YuNetDetector
from signage.perception.models import ModelStore, default_models_dir
from signage.perception.pipeline import FacePipeline
from signage.tracking import PersonDetections, Tracker
from signage.types import Direction, Frame, Observation, ViewerStatus

DATA = Path(__file__).parent / "data"
LABELS = json.loads((DATA / "faces.json").read_text())
PORTRAITS = sorted(LABELS)
Image = npt.NDArray[np.uint8]


def frame_of(image: Image, index: int = 0, t: float = 0.0) -> Frame:
    return Frame(np.ascontiguousarray(image), t_mono=t, index=index)


def face_box(name: str) -> npt.NDArray[np.float32]:
    return np.array(LABELS[name]["faces"][0]["box"], np.float32)


@pytest.fixture(scope="module")
def models() -> ModelStore:
    return ModelStore.load(default_models_dir(), names=("movenet_multipose", "yunet"))


@pytest.fixture(scope="module")
def detector(models: ModelStore) -> BodyDetector:
    return BodyDetector(models=models)


@pytest.fixture(scope="module")
def faces(models: ModelStore) -> YuNetDetector:
    return YuNetDetector(models=models)


def contains(outer: npt.NDArray[np.float32], inner: npt.NDArray[np.float32], slack: float = 0.0) -> bool:
    return bool(np.all(outer[:2] <= inner[:2] + slack) and np.all(outer[2:] >= inner[2:] - slack))


def inside(point: npt.NDArray[np.float32], box: npt.NDArray[np.float32]) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


def back_of_head(name: str) -> Image:
    """The portrait with its face painted over by a dark, head-shaped patch of hair: what a camera sees of a person
    who turned their back (the test photos are all frontal), and also a face hidden from the face detector."""
    image = cv2.imread(str(DATA / name))
    x1, y1, x2, y2 = (int(v) for v in face_box(name))
    w, h = x2 - x1, y2 - y1
    cv2.ellipse(image, ((x1 + x2) // 2, (y1 + y2) // 2 - h // 10), (int(w * 0.62), int(h * 0.68)), 0, 0, 360,
                (30, 35, 45), -1)  # fmt: skip
    return image


def in_room(image: Image, height: int, background: int = 170) -> tuple[Image, float, int, int]:
    """The photo scaled to `height` at the bottom centre of a 640x480 frame; returns frame, scale, x and y offset."""
    scale = height / image.shape[0]
    resized = cv2.resize(image, (round(image.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), background, np.uint8)
    x, y = (640 - resized.shape[1]) // 2, 480 - height
    frame[y:, x : x + resized.shape[1]] = resized
    return frame, scale, x, y


def side_by_side(names: list[str], height: int = 300, gap: int = 20) -> tuple[Image, list[npt.NDArray[np.float32]]]:
    """Portraits next to each other in one frame, and where each labelled face box landed."""
    images = [cv2.imread(str(DATA / name)) for name in names]
    scales = [height / image.shape[0] for image in images]
    widths = [round(image.shape[1] * s) for image, s in zip(images, scales, strict=True)]
    frame = np.full((height + 80, sum(widths) + gap * (len(names) + 1), 3), 180, np.uint8)
    boxes, x = [], gap
    for name, image, s, w in zip(names, images, scales, widths, strict=True):
        frame[40 : 40 + height, x : x + w] = cv2.resize(image, (w, height))
        boxes.append(face_box(name) * s + np.array([x, 40, x, 40], np.float32))
        x += w + gap
    return frame, boxes


# -- the detector on real photos -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PORTRAITS)
def test_each_portrait_is_one_person_facing_us_whose_box_covers_the_face(detector: BodyDetector, name: str) -> None:
    bodies = detector.detect(frame_of(cv2.imread(str(DATA / name))))
    face = face_box(name)
    assert len(bodies) == 1, f"{name}: {len(bodies)} people, scores {bodies.scores}"
    assert contains(bodies.boxes[0], face, slack=0.05 * (face[3] - face[1])), f"{name}: {bodies.boxes[0]} vs {face}"
    assert inside(bodies.keypoints[0, Keypoint.NOSE], face)
    assert bodies.facing == (Facing.FACING,)
    assert bodies.shoulders_frontal(detector.keypoint_min_score).tolist() == [True]


def test_no_body_on_blank_frames_and_textures(detector: BodyDetector) -> None:
    rng = np.random.default_rng(7)
    images = [
        np.zeros((480, 640, 3), np.uint8),
        np.full((480, 640, 3), 255, np.uint8),
        np.full((480, 640, 3), 128, np.uint8),
        rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 4),
        np.tile(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (480, 1, 3)),
        np.tile(np.linspace(0, 255, 480, dtype=np.uint8)[:, None, None], (1, 640, 3)),
        ((np.indices((480, 640)).sum(axis=0) // 20 % 2) * 255).astype(np.uint8)[:, :, None].repeat(3, axis=2),
    ]
    for i, image in enumerate(images):
        assert len(detector.detect(frame_of(image))) == 0, f"texture {i}"


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_mirrored_photo_swaps_left_and_right_keypoints(detector: BodyDetector, name: str) -> None:
    image = cv2.imread(str(DATA / name))
    width = image.shape[1]
    original = detector.detect(frame_of(image))
    mirrored = detector.detect(frame_of(image[:, ::-1]))
    assert len(original) == len(mirrored) == 1
    # Mirrored, a frontal person is still frontal: their left shoulder is still on the image's right ...
    assert mirrored.facing == (Facing.FACING,)
    assert mirrored.shoulders_frontal(detector.keypoint_min_score).tolist() == [True]
    # ... so keypoint k of the mirrored photo is keypoint MIRRORED[k] of the original, reflected.
    reflected = original.keypoints[0, list(MIRRORED)].copy()
    reflected[:, 0] = width - reflected[:, 0]
    seen = (mirrored.keypoint_scores[0] >= 0.5) & (original.keypoint_scores[0, list(MIRRORED)] >= 0.5)
    assert seen.sum() >= 5, f"{name}: only {seen.sum()} keypoints seen in both"
    error = np.linalg.norm(mirrored.keypoints[0, seen] - reflected[seen], axis=1)
    assert error.max() <= 0.06 * width, f"{name}: {error.round(1)}"
    # the unswapped reading would be far off: the shoulders are a shoulder width apart
    unswapped = original.keypoints[0, [Keypoint.LEFT_SHOULDER]].copy()
    unswapped[:, 0] = width - unswapped[:, 0]
    assert np.linalg.norm(mirrored.keypoints[0, Keypoint.LEFT_SHOULDER] - unswapped[0]) > 0.2 * width


@pytest.mark.parametrize(
    "names",
    [
        ["astronaut.png", "grace_hopper.jpg"],
        ["obama.jpg", "trump.jpg"],
        ["astronaut.png", "obama.jpg", "trump.jpg"],
        ["grace_hopper.jpg", "obama.jpg", "trump.jpg"],
    ],
)
def test_portraits_side_by_side_give_one_person_each(detector: BodyDetector, names: list[str]) -> None:
    image, face_boxes = side_by_side(names)
    bodies = detector.detect(frame_of(image))
    assert len(bodies) == len(names), f"{names}: scores {bodies.scores}"
    # each face lies in its own body, nose on the face
    owners = []
    for face in face_boxes:
        holding = [i for i in range(len(bodies)) if inside(bodies.keypoints[i, Keypoint.NOSE], face)]
        assert len(holding) == 1, f"{names}: face {face} holds noses of {holding}"
        owners += holding
    assert sorted(owners) == list(range(len(names)))
    assert faces_on_bodies(bodies, np.stack(face_boxes), detector.keypoint_min_score).all()


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "obama.jpg"])
@pytest.mark.parametrize("height", [480, 360])
def test_a_person_whose_face_is_hidden_is_still_found_as_not_facing(
    detector: BodyDetector, faces: YuNetDetector, name: str, height: int
) -> None:
    frame = frame_of(in_room(back_of_head(name), height)[0])
    assert len(faces.detect(frame)) == 0  # the face detector does not see this person at all
    bodies = detector.detect(frame)
    assert len(bodies) == 1, f"{name} at {height} px: scores {bodies.scores}"
    assert bodies.facing == (Facing.BACK,)
    # the same person with their face visible: facing
    visible = detector.detect(frame_of(in_room(cv2.imread(str(DATA / name)), height)[0]))
    assert visible.facing == (Facing.FACING,)


CAMERAMAN_FACE = (178, 100, 262, 205)  # x1, y1, x2, y2 of the cameraman's face (in profile) in camera.png


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("height", [512, 400])
def test_the_cameraman_with_his_face_covered_is_still_a_person(
    detector: BodyDetector, faces: YuNetDetector, mirror: bool, height: int
) -> None:
    """More of a body than a portrait shows (arms, coat, a tripod in hand): covered face or not, one person."""
    image = cv2.imread(str(DATA / "camera.png"))
    x1, y1, x2, y2 = CAMERAMAN_FACE
    image[y1:y2, x1:x2] = 128
    image = image[:, ::-1] if mirror else image
    frame = frame_of(in_room(image, height)[0] if height != image.shape[0] else image)
    assert len(faces.detect(frame)) == 0
    bodies = detector.detect(frame)
    assert len(bodies) == 1, f"scores {bodies.scores}"
    assert Facing.FACING not in bodies.facing


def test_no_person_in_a_photo_of_a_cat(detector: BodyDetector) -> None:
    image = cv2.imread(str(DATA / "chelsea.png"))
    assert len(detector.detect(frame_of(image))) == 0
    assert len(detector.detect(frame_of(image[:, ::-1]))) == 0


# -- facing from keypoints (table-driven) ----------------------------------------------------------------------
def pose(seen: dict[Keypoint, tuple[float, float]], score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    points = np.zeros((KEYPOINTS, 2), np.float32)
    scores = np.full(KEYPOINTS, 0.05, np.float32)
    for key, xy in seen.items():
        points[key], scores[key] = xy, score
    return points, scores


FRONT = {Keypoint.NOSE: (100, 50), Keypoint.LEFT_EYE: (110, 40), Keypoint.RIGHT_EYE: (90, 40)}
SHOULDERS = {Keypoint.LEFT_SHOULDER: (140, 120), Keypoint.RIGHT_SHOULDER: (60, 120)}


@pytest.mark.parametrize(
    ("seen", "score", "expected"),
    [
        ({**FRONT, **SHOULDERS}, 0.9, Facing.FACING),
        (FRONT, 0.9, Facing.FACING),
        ({**FRONT, Keypoint.NOSE: (130, 50)}, 0.9, Facing.SIDE),  # the nose well past the eyes: a profile
        ({Keypoint.NOSE: (100, 50), Keypoint.RIGHT_EYE: (90, 40), **SHOULDERS}, 0.9, Facing.SIDE),
        ({**FRONT, **SHOULDERS}, 0.45, Facing.BACK),  # face points guessed weakly, shoulders seen
        (SHOULDERS, 0.9, Facing.BACK),
        ({Keypoint.LEFT_EAR: (120, 45), Keypoint.RIGHT_EAR: (80, 45)}, 0.9, Facing.BACK),
        ({Keypoint.LEFT_KNEE: (120, 300)}, 0.9, Facing.UNKNOWN),
        ({}, 0.9, Facing.UNKNOWN),
    ],
)
def test_facing_from_keypoints(seen: dict[Keypoint, tuple[float, float]], score: float, expected: Facing) -> None:
    points, scores = pose(seen, score)
    assert facing_from_keypoints(points, scores, min_score=0.3, face_min_score=0.52) is expected


def test_mirrored_order_swaps_only_left_and_right() -> None:
    assert MIRRORED[Keypoint.NOSE] == Keypoint.NOSE
    assert MIRRORED[Keypoint.LEFT_SHOULDER] == Keypoint.RIGHT_SHOULDER
    assert MIRRORED[Keypoint.RIGHT_ANKLE] == Keypoint.LEFT_ANKLE
    assert sorted(MIRRORED) == list(range(KEYPOINTS))
    assert all(MIRRORED[MIRRORED[k]] == k for k in range(KEYPOINTS))


def test_body_detections_check_their_shapes_and_select() -> None:
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(N, 17, 2\), got \(1, 5, 2\)"):
        BodyDetections(np.zeros((1, 4)), np.ones(1), np.zeros((1, 5, 2)), np.zeros((1, KEYPOINTS)), (Facing.BACK,))
    with pytest.raises(ValueError, match="columns differ"):
        BodyDetections(np.zeros((2, 4)), np.ones(2), np.zeros((2, KEYPOINTS, 2)), np.zeros((2, KEYPOINTS)), ("back",))
    two = BodyDetections(
        np.array([[0, 0, 10, 10], [5, 5, 20, 20]]),
        np.array([0.9, 0.3]),
        np.zeros((2, KEYPOINTS, 2)),
        np.zeros((2, KEYPOINTS)),
        ("facing", "back"),
    )
    one = two.select(np.array([False, True]))
    assert len(one) == 1 and one.facing == (Facing.BACK,) and one.scores.tolist() == pytest.approx([0.3])
    assert not two.boxes.flags.writeable
    with pytest.raises(ValueError, match="mask of shape"):
        two.select(np.array([True]))


# -- the schedule and the tracker ------------------------------------------------------------------------------
class CountingDetector:
    """The real detector, counting its calls."""

    def __init__(self, detector: BodyDetector) -> None:
        self.detector = detector
        self.calls = 0

    def detect(self, frame: Frame) -> BodyDetections:
        self.calls += 1
        return self.detector.detect(frame)


def test_schedule_runs_every_nth_frame_and_holds_the_faceless_bodies_between(
    detector: BodyDetector, faces: YuNetDetector
) -> None:
    hidden = frame_of(in_room(back_of_head("obama.jpg"), 400)[0])
    counting = CountingDetector(detector)
    schedule = BodySchedule(counting, every_n_frames=4, keypoint_min_score=detector.keypoint_min_score)
    no_faces = np.zeros((0, 4), np.float32)
    handed = [schedule.faceless_bodies(hidden, no_faces) for _ in range(9)]
    assert counting.calls == schedule.runs == 3  # frames 0, 4 and 8
    assert [len(b) for b in handed] == [1] * 9
    assert all(np.array_equal(b.boxes, handed[0].boxes) for b in handed[:4])
    # a face appearing on a held body (the person turned round) drops it until the next run
    body = handed[-1].boxes[0]
    face_on_it = np.array([[body[0] + 0.4 * (body[2] - body[0]), body[1] + 10, body[0] + 0.6 * (body[2] - body[0]),
                            body[1] + 60]], np.float32)  # fmt: skip
    assert len(schedule.faceless_bodies(hidden, face_on_it)) == 0
    assert counting.calls == 3


def test_a_back_turned_person_walking_past_is_carried_between_runs_and_gets_a_direction(
    detector: BodyDetector, faces: YuNetDetector
) -> None:
    """Walking right at 180 px/s, seen every 4th frame: in between, the body moves on at its measured speed (closer
    to where the next run finds it than a box held still), and the tracker says left to right."""
    person = in_room(back_of_head("obama.jpg"), 300)[0]
    schedule = BodySchedule(detector, every_n_frames=4, keypoint_min_score=detector.keypoint_min_score)
    tracker = Tracker(Config().tracking)
    handed = []
    for index in range(13):
        frame = frame_of(np.roll(person, 12 * index, axis=1), index=index, t=index / 15)
        bodies = schedule.faceless_bodies(frame, faces.detect(frame).boxes)
        assert len(bodies) == 1, f"frame {index}"
        handed.append(bodies.boxes[0])
        tracks = tracker.update(PersonDetections.build(bodies=bodies.boxes, body_scores=bodies.scores), frame.t_mono)
    left = [box[0] for box in handed]
    assert np.all(np.diff(left[4:8]) > 0)  # frames 5-7 carried on from the run at frame 4, not held still
    carried_error = abs(left[7] + (left[7] - left[6]) - left[8])  # one step on from frame 7 vs the run at frame 8
    held_error = abs(left[4] - left[8])  # frame 4's box held still until frame 8
    assert carried_error < 0.5 * held_error
    assert len(tracks) == 1 and tracks.directions[0] is Direction.LEFT_TO_RIGHT


def test_a_visible_person_is_left_to_the_face_path(detector: BodyDetector, faces: YuNetDetector) -> None:
    frame = frame_of(in_room(cv2.imread(str(DATA / "obama.jpg")), 400)[0])
    found = faces.detect(frame)
    assert len(found) == 1 and len(detector.detect(frame)) == 1
    schedule = BodySchedule(detector, every_n_frames=1, keypoint_min_score=detector.keypoint_min_score)
    assert len(schedule.faceless_bodies(frame, found.boxes)) == 0


@pytest.mark.parametrize("turned", [False, True])
def test_tracker_counts_a_person_with_a_hidden_face_once_and_as_not_facing(
    detector: BodyDetector, faces: YuNetDetector, turned: bool
) -> None:
    """Frames of one person (face visible, or the back of the head) through faces + body schedule + tracker: exactly
    one track either way; facing only when the face is seen. Without bodies the hidden person is not tracked."""
    config = Config()
    photo = back_of_head("obama.jpg") if turned else cv2.imread(str(DATA / "obama.jpg"))
    tracked, tracked_faces_only = Tracker(config.tracking), Tracker(config.tracking)
    schedule = BodySchedule(detector, every_n_frames=3, keypoint_min_score=detector.keypoint_min_score)
    ids: set[int] = set()
    for index in range(8):  # the person walks slowly to the right
        image = np.roll(in_room(photo, 400)[0], 4 * index, axis=1)
        frame = frame_of(image, index=index, t=index / 15)
        found = faces.detect(frame)
        bodies = schedule.faceless_bodies(frame, found.boxes)
        detections = PersonDetections.build(
            bodies=bodies.boxes, body_scores=bodies.scores, faces=found.boxes, face_scores=found.scores
        )
        tracks = tracked.update(detections, frame.t_mono)
        faces_only = tracked_faces_only.update(PersonDetections.from_faces(found), frame.t_mono)
        ids |= set(tracks.ids.tolist())
    assert len(tracks) == 1 and len(ids) == 1
    assert len(faces_only) == (0 if turned else 1)
    facing = tracks.facing(config.audience.facing_max_yaw_deg, config.audience.facing_max_pitch_deg)
    assert facing.tolist() == [False]  # no head pose: a passer-by, not a watcher


@pytest.mark.parametrize("name", PORTRAITS)
@pytest.mark.parametrize("height", [480, 360, 260])
def test_hidden_faces_over_all_portraits_and_sizes(detector: BodyDetector, name: str, height: int) -> None:
    """The figures behind the two tests above, for every portrait at three sizes in a 640x480 frame (recorded when
    the model was chosen): with the face visible, one person facing, always; with the back of the head, a person is
    found in 10 of these 12 scenes (not astronaut at 480 px, not trump at 260 px: bust close-ups are the hard case
    for MoveNet) and never taken as facing."""
    visible = detector.detect(frame_of(in_room(cv2.imread(str(DATA / name)), height)[0]))
    assert visible.facing == (Facing.FACING,)
    hidden = detector.detect(frame_of(in_room(back_of_head(name), height)[0]))
    misses = {("astronaut.png", 480), ("trump.jpg", 260)}
    assert len(hidden) == (0 if (name, height) in misses else 1), f"scores {hidden.scores}"
    assert Facing.FACING not in hidden.facing


# -- end to end: a clip through the live source and the audience stage ---------------------------------------------
CLIP_FPS = 15.0
CLIP_FRAMES = 45


def write_two_people_clip(path: Path) -> None:
    """Two people walking slowly to the right: one facing the camera (Obama's portrait), one whose face is not seen
    (Grace Hopper's portrait with the back of a head painted over the face)."""
    visible, _, _, _ = in_room(cv2.imread(str(DATA / "obama.jpg")), 300)
    hidden, _, _, _ = in_room(back_of_head("grace_hopper.jpg"), 300)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), CLIP_FPS, (640, 480))
    assert writer.isOpened()
    try:
        for index in range(CLIP_FRAMES):
            frame = np.full((480, 640, 3), 170, np.uint8)
            shift = index // 3
            frame[:, 10 + shift : 330 + shift] = visible[:, 160 - 30 : 480 - 30]  # the person, not the whole frame
            frame[:, 330 + shift : 620 + shift] = hidden[:, 175:465]
            writer.write(frame)
    finally:
        writer.release()


def test_live_source_tracks_a_person_without_a_face_as_a_passer_by(tmp_path: Path) -> None:
    clip = tmp_path / "two.avi"
    write_two_people_clip(clip)
    config = Config()
    capture = CaptureConfig(source=str(clip), file_pacing="realtime", isolation="thread")
    bodies = body_schedule_from_config(config)
    assert bodies is not None
    clock = SystemClock()
    stage = AudienceStage(config.audience, session_id="s", model_versions="m")
    source = LiveSource(
        camera=open_camera(capture),
        analyzer=FacePipeline.from_config(config),
        tracker=Tracker(config.tracking),
        clock=clock,
        bodies=bodies,
    )
    seen: dict[int, list[bool]] = {}
    statuses: dict[int, set[ViewerStatus]] = {}
    wait = threading.Event()
    with source:
        while not source.ended():
            observation = source.step(clock.monotonic(), datetime.now(UTC), None)
            facing = observation.tracks.facing(config.audience.facing_max_yaw_deg, config.audience.facing_max_pitch_deg)
            for track_id, is_facing in zip(observation.tracks.ids.tolist(), facing.tolist(), strict=True):
                seen.setdefault(track_id, []).append(is_facing)
            update = stage.update(observation, None)
            for viewer in update.snapshot.viewers:
                statuses.setdefault(viewer.track_id, set()).add(viewer.status)
            wait.wait(1 / 30)
    assert isinstance(observation, Observation)
    perceived = source.stats().frames  # newest frame wins: a slow machine perceives fewer than CLIP_FRAMES
    assert perceived >= CLIP_FRAMES // 3
    assert bodies.runs == -(-perceived // config.perception.body_every_n_frames)  # the first, then every Nth frame
    assert len(seen) == 2, {k: len(v) for k, v in seen.items()}  # both people, each with one id
    watcher = max(seen, key=lambda k: sum(seen[k]))
    passer = min(seen, key=lambda k: sum(seen[k]))
    assert sum(seen[passer]) == 0 and sum(seen[watcher]) >= 0.8 * len(seen[watcher])
    assert ViewerStatus.PASSER_BY in statuses[passer] and ViewerStatus.WATCHER not in statuses[passer]
    assert ViewerStatus.WATCHER in statuses[watcher] or ViewerStatus.ATTENTIVE in statuses[watcher]
