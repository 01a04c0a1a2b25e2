"""Head pose against known angles.

No photo of a face at a known angle ships in any package we can use, so the angles are made: each frontal test
portrait's own face mesh (the production landmark model's 468 points, x, y and depth) becomes a textured 3-D head,
turned by a known yaw or pitch and drawn on a seeded background (signage.perception.clips.render_head, in memory),
and the production pipeline reads it back. The truth is the turn relative to the unturned render of the same head
(the portraits themselves are only about frontal). Tolerances are the measured worst cases with a margin; the figures
are in signage/perception/head_pose.py.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.config import Config
from signage.perception.clips import HEAD_DEPTH_SCALE, TexturedHead, render_head, smooth_background
from signage.perception.faces import YuNetDetector
from signage.perception.head_pose import (
    CANONICAL,
    POSE_POINTS,
    angles_from_rotation,
    canonical_shape,
    head_pose,
    rotation_from_angles,
)
from signage.perception.landmarks import FaceLandmarker
from signage.perception.models import ModelStore, default_models_dir
from signage.perception.pipeline import FacePipeline
from signage.perception.scheduler import PerceptionScheduler
from signage.types import Frame

DATA = Path(__file__).parent / "data"
SOURCES = ("astronaut.png", "grace_hopper.jpg", "obama.jpg")  # trump.jpg is itself turned about 13 degrees
YAWS = (-45, -30, -15, 15, 30, 45)
PITCHES = (-20, -10, 10, 20)
CONFIG = Config()
MAX_YAW, MAX_PITCH = CONFIG.audience.facing_max_yaw_deg, CONFIG.audience.facing_max_pitch_deg


def frame_of(image: np.ndarray) -> Frame:
    return Frame(np.ascontiguousarray(image), t_mono=0.0, index=0)


@functools.cache
def pipeline() -> FacePipeline:
    return FacePipeline.from_config(CONFIG)


@functools.cache
def models() -> ModelStore:
    return ModelStore.load(default_models_dir(), names=("yunet", "face_landmark"))


def photo_mesh(image: np.ndarray) -> np.ndarray:
    """The production models' face mesh (468, 3) of the one face in a photo."""
    frame = frame_of(image)
    faces = YuNetDetector(models=models(), detect_width=CONFIG.perception.detect_width).detect(frame)
    meshes = FaceLandmarker(models=models()).landmark(frame, faces)
    assert len(meshes) == 1 and meshes.scores[0] > 0.9
    mesh: np.ndarray = meshes.points[0]
    return mesh


@functools.cache
def head(name: str, depth_scale: float = 1.0) -> TexturedHead:
    image = cv2.imread(str(DATA / name))
    return TexturedHead.from_mesh(image, photo_mesh(image), depth_scale=depth_scale)


def test_the_canonical_face_is_the_mean_of_the_portraits_and_their_mirror_images() -> None:
    photos = [cv2.imread(str(DATA / name)) for name in (*SOURCES, "trump.jpg")]
    derived = canonical_shape([photo_mesh(image) for photo in photos for image in (photo, photo[:, ::-1])])
    assert np.abs(derived - CANONICAL).max() <= 3.0  # CANONICAL is rounded to whole units of 1/1000 of its size
    yaw, pitch, roll = angles_from_rotation(np.eye(3))
    assert head_pose_of_canonical() == pytest.approx((yaw, pitch, roll), abs=1e-6)


def head_pose_of_canonical() -> tuple[float, float, float]:
    mesh = np.zeros((468, 3), np.float32)
    mesh[list(POSE_POINTS)] = CANONICAL
    return head_pose(mesh)


def rendered(name: str, yaw: float, pitch: float, depth_scale: float = 1.0) -> np.ndarray:
    source = head(name, depth_scale)
    height, width = source.image.shape[:2]
    return render_head(source, rotation_from_angles(yaw, pitch, 0), smooth_background(3, width, height))


@functools.cache
def reading(
    name: str, yaw: float, pitch: float, *, mirrored: bool = False, scale: float = 1.0, depth_scale: float = 1.0
) -> tuple[float, float, float, bool]:
    """(yaw, pitch, roll, facing) the pipeline reads on the head of `name` turned by yaw and pitch."""
    image = rendered(name, yaw, pitch, depth_scale)
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    result = pipeline().analyze(frame_of(image[:, ::-1] if mirrored else image))
    assert len(result) == 1, f"{name} at yaw {yaw}, pitch {pitch}: {len(result)} faces"
    read_yaw, read_pitch, read_roll = (float(v) for v in result.head_pose[0])
    return read_yaw, read_pitch, read_roll, bool(result.facing[0])


def turn_read(name: str, yaw: float, pitch: float, scale: float = 1.0, depth_scale: float = 1.0) -> tuple[float, float]:
    """The yaw and pitch read on the turned head, less those read on the unturned one."""
    turned = reading(name, yaw, pitch, scale=scale, depth_scale=depth_scale)
    unturned = reading(name, 0, 0, scale=scale, depth_scale=depth_scale)
    return turned[0] - unturned[0], turned[1] - unturned[1]


@pytest.mark.parametrize("yaw", YAWS)
@pytest.mark.parametrize("name", SOURCES)
def test_yaw_of_a_turned_head_within_tolerance(name: str, yaw: int) -> None:
    # measured worst: 7.2 deg within +-30 (obama.jpg at -30), 8.5 at +-45 (astronaut.png at -45)
    read_yaw, read_pitch = turn_read(name, yaw, 0)
    assert abs(read_yaw - yaw) <= (8.0 if abs(yaw) <= 30 else 10.0), (read_yaw, yaw)
    assert abs(read_pitch) <= 15.0, read_pitch  # a turn is not read as a nod


@pytest.mark.parametrize(("yaw", "pitch"), [(30, 15), (-30, 15), (30, -15), (-30, -15), (15, 20), (-15, -20)])
@pytest.mark.parametrize("name", SOURCES)
def test_a_head_turned_and_nodded_reads_both(name: str, yaw: int, pitch: int) -> None:
    # measured worst: yaw 6.8 deg (obama.jpg at -30, 15), pitch 8.0 (grace_hopper.jpg at 30, 15)
    read_yaw, read_pitch = turn_read(name, yaw, pitch)
    assert abs(read_yaw - yaw) <= 8.0 and abs(read_pitch - pitch) <= 9.0, (read_yaw, read_pitch, yaw, pitch)


@pytest.mark.parametrize(("yaw", "pitch"), [(-30, 0), (30, 0), (0, -20), (0, 20)])
@pytest.mark.parametrize("name", SOURCES)
def test_small_faces_read_the_same_turns(name: str, yaw: int, pitch: int) -> None:
    # the renders scaled to 0.35: faces 38-83 px tall, as a few metres from the camera; measured worst 7.6 deg
    read_yaw, read_pitch = turn_read(name, yaw, pitch, scale=0.35)
    assert abs(read_yaw - yaw) <= 8.0 and abs(read_pitch - pitch) <= 9.0, (read_yaw, read_pitch, yaw, pitch)


@pytest.mark.parametrize("pitch", PITCHES)
@pytest.mark.parametrize("name", SOURCES)
def test_pitch_of_a_nodding_head_within_tolerance(name: str, pitch: int) -> None:
    # measured worst: 6.7 deg (obama.jpg nodding 20 down, his hand under the chin); the others within 3.5
    read_yaw, read_pitch = turn_read(name, 0, pitch)
    assert abs(read_pitch - pitch) <= 9.0, (read_pitch, pitch)
    assert abs(read_yaw) <= 6.0, read_yaw  # a nod is not read as a turn


@pytest.mark.parametrize(
    ("depth_scale", "yaw_slope", "pitch_slope"),
    [(1.0, (0.85, 1.05), (0.85, 1.05)), (HEAD_DEPTH_SCALE, (0.9, 1.1), (0.9, 1.15))],
)
def test_turns_are_read_at_nearly_their_full_angle(
    depth_scale: float, yaw_slope: tuple[float, float], pitch_slope: tuple[float, float]
) -> None:
    # least-squares slope of read against true angle over every render, on heads with the model's own depth and with
    # MediaPipe's canonical proportions (deeper). Measured: yaw 0.89 and 0.95, pitch 0.93 and 1.04; the previous
    # estimator (axes through the cheek edges, forehead and chin) read yaw at 0.72 and 0.77, pitch at 0.99 and 1.10
    yaw_pairs = np.array(
        [(yaw, turn_read(name, yaw, 0, depth_scale=depth_scale)[0]) for name in SOURCES for yaw in YAWS]
    )
    pitch_pairs = np.array(
        [(pitch, turn_read(name, 0, pitch, depth_scale=depth_scale)[1]) for name in SOURCES for pitch in PITCHES]
    )
    for pairs, (low, high) in ((yaw_pairs, yaw_slope), (pitch_pairs, pitch_slope)):
        slope = float(pairs[:, 0] @ pairs[:, 1] / (pairs[:, 0] @ pairs[:, 0]))
        assert low <= slope <= high, (slope, pairs.round(1).tolist())


@pytest.mark.parametrize("yaw", (-30, -15, 15, 30))
@pytest.mark.parametrize("name", SOURCES)
def test_a_mirrored_render_reads_the_opposite_yaw(name: str, yaw: int) -> None:
    # the mirror image of a head turned by yaw from where the unturned head points is turned by -(yaw + that)
    unturned, plain, mirrored = reading(name, 0, 0), reading(name, yaw, 0), reading(name, yaw, 0, mirrored=True)
    assert np.sign(plain[0]) == np.sign(yaw) and np.sign(mirrored[0]) == -np.sign(yaw), (plain, mirrored)
    # measured worst 5.4 deg (grace_hopper.jpg at 15); the model does not read a face and its mirror image alike:
    # obama.jpg at -30 reads 7 deg short and its mirror image 3 deg long
    assert abs(mirrored[0] + yaw + unturned[0]) <= 8.0, (mirrored[0], -(yaw + unturned[0]))
    assert abs(plain[1] - mirrored[1]) <= 4.0, (plain[1], mirrored[1])


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("margin", (-10, 10))
@pytest.mark.parametrize("side", (-1, 1))
def test_facing_flips_at_the_configured_yaw(name: str, margin: int, side: int) -> None:
    # the head turned to 10 deg inside or outside the configured angle (from where the unturned head points)
    unturned = reading(name, 0, 0)
    true_yaw = side * (MAX_YAW + margin)
    read = reading(name, true_yaw - unturned[0], 0)
    assert read[3] is (abs(true_yaw) <= MAX_YAW), (true_yaw, read)


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("margin", (-10, 10))
@pytest.mark.parametrize("side", (-1, 1))
def test_facing_flips_at_the_configured_pitch(name: str, margin: int, side: int) -> None:
    unturned = reading(name, 0, 0)
    true_pitch = side * (MAX_PITCH + margin)
    read = reading(name, 0, true_pitch - unturned[1])
    assert read[3] is (abs(true_pitch) <= MAX_PITCH), (true_pitch, read)


@pytest.mark.parametrize(("yaw", "pitch"), [(-30, 0), (30, 0), (0, 20), (20, -15)])
def test_the_engine_schedule_reads_the_same_pose_and_facing(yaw: int, pitch: int) -> None:
    scheduler = PerceptionScheduler.from_config(CONFIG)  # a new face gets its landmarks on its first frame
    result = scheduler.analyze(frame_of(rendered("astronaut.png", yaw, pitch)))
    assert len(result) == 1
    read = reading("astronaut.png", yaw, pitch)
    assert np.asarray(result.head_pose[0]) == pytest.approx(read[:3], abs=0.5)
    assert bool(result.facing[0]) is read[3]
