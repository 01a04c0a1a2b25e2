"""Gaze from the iris model on real portraits, the gaze geometry on synthetic iris shifts, and the engine's schedule
(PerceptionScheduler) against the golden clip figures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.config import Config
from signage.perception.clips import composed_clip, load_sources, match_count
from signage.perception.gaze import angle_for_offset, eye_in_head, gaze_angles, on_screen
from signage.perception.pipeline import FacePipeline
from signage.perception.scheduler import ATTENTIVE_PRIORITY_FRAMES, FollowedFace, PerceptionScheduler, _new_face
from signage.types import Frame

DATA = Path(__file__).parent / "data"
PORTRAITS = sorted(json.loads((DATA / "faces.json").read_text()))
GOLDEN = DATA / "perception_golden.json"


def frame_of(image: np.ndarray, index: int = 0, t: float = 0.0) -> Frame:
    return Frame(np.ascontiguousarray(image), t_mono=t, index=index)


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_config(Config())


@pytest.mark.parametrize("name", PORTRAITS)
def test_portraits_look_roughly_straight_and_mirroring_flips_the_horizontal_gaze(
    pipeline: FacePipeline, name: str
) -> None:
    # every portrait looks into the camera (trump.jpg with the head turned about 10 degrees and the eyes back)
    image = cv2.imread(str(DATA / name))
    original = pipeline.analyze(frame_of(image))
    mirrored = pipeline.analyze(frame_of(image[:, ::-1]))
    h, v = (float(x) for x in original.gaze[0])
    mh, mv = (float(x) for x in mirrored.gaze[0])
    assert abs(h) <= 8 and abs(mh) <= 8, (h, mh)
    assert abs(v) <= 15 and abs(mv) <= 15, (v, mv)
    assert abs(h + mh) <= 4, (h, mh)
    assert original.on_screen.tolist() == [True] and mirrored.on_screen.tolist() == [True]


def test_a_turned_head_looking_at_the_camera_has_its_eyes_turned_back(pipeline: FacePipeline) -> None:
    image = cv2.imread(str(DATA / "trump.jpg"))
    for frame, sign in ((image, 1), (image[:, ::-1], -1)):
        result = pipeline.analyze(frame_of(frame))
        yaw, gaze_h = float(result.head_pose[0, 0]), float(result.gaze[0, 0])
        assert sign * yaw > 5  # the head turns towards the image's right (left when mirrored) ...
        assert abs(gaze_h) < abs(yaw) - 3  # ... and the eyes turn back towards the camera


def eye(corner_a: tuple[float, float], corner_b: tuple[float, float]) -> np.ndarray:
    return np.array([corner_a, corner_b], np.float32)


@pytest.mark.parametrize("offset", [-0.15, -0.05, 0.0, 0.08, 0.2])
@pytest.mark.parametrize("roll_deg", [0.0, 25.0, -40.0])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_synthetic_iris_shifts_give_the_eyeball_angle_whatever_the_roll_and_size(
    offset: float, roll_deg: float, scale: float
) -> None:
    # two level eyes 30 px wide, the irises shifted along the corner line by `offset` eye widths, then the whole
    # face rotated and scaled: the horizontal angle is the eyeball model's, the vertical stays 0
    corners = np.stack([eye((0, 0), (30, 0)), eye((60, 0), (90, 0))])
    centres = corners.mean(axis=1) + np.array([offset * 30, 0], np.float32)
    angle = np.radians(roll_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32) * scale
    eyes = eye_in_head((centres @ rotation.T)[None], (corners @ rotation.T)[None])
    assert eyes[0, 0] == pytest.approx(angle_for_offset(offset), abs=0.05)
    assert eyes[0, 1] == pytest.approx(0.0, abs=0.05)
    if offset:
        assert np.sign(eyes[0, 0]) == np.sign(offset)


def test_irises_above_the_corner_line_look_up_and_gaze_adds_the_head_pose() -> None:
    corners = np.stack([eye((0, 0), (30, 0)), eye((60, 0), (90, 0))])[None]
    centres = (corners.mean(axis=2) + np.array([0, -3], np.float32)).astype(np.float32)  # 0.1 eye widths up
    eyes = eye_in_head(centres, corners)
    assert eyes[0, 1] == pytest.approx(angle_for_offset(0.1), abs=0.05)
    gaze = gaze_angles(np.array([[10, -5, 3]], np.float32), eyes)
    assert gaze[0].tolist() == pytest.approx([10.0, -5 + angle_for_offset(0.1)], abs=0.05)
    assert on_screen(np.array([[10, 5], [25, 0], [0, -16], [np.nan, 0]], np.float32), 20, 15).tolist() == [
        True,
        False,
        False,
        False,
    ]


def scheduled_figures(config: Config) -> dict[str, float]:
    sources = load_sources(DATA)
    matched = truths = founds = 0
    for seed in (1, 2, 3):
        scheduler = PerceptionScheduler.from_config(config)  # one camera per clip
        for clip_frame in composed_clip(sources, seed=seed):
            found = scheduler.analyze(clip_frame.frame)
            matched += match_count(clip_frame.truth, found.detections.boxes, 0.5)
            truths += len(clip_frame.truth)
            founds += len(found)
    return {"recall": matched / truths, "precision": matched / founds, "faces": truths}


def test_the_engine_schedule_holds_the_golden_clip_figures() -> None:
    figures = scheduled_figures(Config())
    golden = json.loads(GOLDEN.read_text())["scheduled"]
    assert figures["faces"] == golden["faces"], "the clip changed: regenerate the golden file on purpose"
    assert figures["recall"] >= 0.95 and figures["precision"] >= 0.95, figures
    assert figures["recall"] >= golden["recall"] - 1e-9, (figures, golden)
    assert figures["precision"] >= golden["precision"] - 1e-9, (figures, golden)


def test_the_scheduler_refreshes_within_its_budget_and_irises_only_facing_faces() -> None:
    config = Config()
    scheduler = PerceptionScheduler.from_config(config)
    budget = config.perception.face_refreshes_per_frame
    clip = list(composed_clip(load_sources(DATA), seed=4, counts=(6,), frames_per_segment=8))
    stale_frames = []
    for clip_frame in clip:
        result = scheduler.analyze(clip_frame.frame)
        assert len(result) == 6
        # every face has a head pose from its first frame on, and gaze only where it faces the screen
        assert not np.isnan(result.head_pose[:, 0]).any()
        assert np.isnan(result.gaze[~result.facing]).all()
        stale_frames.append(result.timings_ms.get("landmarks") is not None)
    # after the first frame (all six new), landmarks ran every frame but on at most `budget` faces
    refreshed = [face.refreshed_at for face in scheduler._faces]
    assert max(refreshed) == len(clip) - 1
    assert sum(r == len(clip) - 1 for r in refreshed) <= budget
    assert min(refreshed) >= len(clip) - 1 - 6 // budget  # the stalest waits no longer than the rotation
    assert all(stale_frames)


def with_perception(**update: object) -> Config:
    config = Config()
    return config.model_copy(update={"perception": config.perception.model_copy(update=update)})


def test_the_iris_budget_holds_and_every_facing_face_keeps_a_current_gaze() -> None:
    scheduler = PerceptionScheduler.from_config(with_perception(iris_refreshes_per_frame=1))
    clip = list(composed_clip(load_sources(DATA), seed=4, counts=(6,), frames_per_segment=16))
    for call, clip_frame in enumerate(clip):
        result = scheduler.analyze(clip_frame.frame)
        assert sum(face.irises_at == call for face in scheduler._faces) == 1  # even when six faces are new
        # once its eyes were measured, gaze follows every facing face (its fresh head pose plus its last eye
        # measurement); never the others
        eyes_known = np.array([face.irises_at >= 0 for face in scheduler._faces])
        assert np.isfinite(result.gaze[result.facing & eyes_known]).all()
        assert np.isnan(result.gaze[~result.facing | ~eyes_known]).all()
    assert np.isfinite(result.gaze[result.facing]).all() and result.facing.sum() >= 4
    pose_age, gaze_age = scheduler.ages()
    assert 0 <= pose_age <= 6 // Config().perception.face_refreshes_per_frame
    assert 0 <= gaze_age <= 8  # six faces, one a frame, in turns


def test_attentive_faces_get_their_irises_first_but_the_others_are_not_starved() -> None:
    scheduler = PerceptionScheduler.from_config(with_perception(iris_refreshes_per_frame=1))
    looking = _new_face(np.array([0, 0, 10, 10], np.float32), np.zeros((5, 2), np.float32), 0.9, 0.0)
    looking = dataclasses.replace(looking, gaze=np.array([2.0, 1.0], np.float32))
    away = dataclasses.replace(looking, gaze=np.array([45.0, 0.0], np.float32))
    both = np.array([0, 1], np.intp)
    first = ATTENTIVE_PRIORITY_FRAMES - 1
    turns = scheduler._iris_turns([dataclasses.replace(looking, irises_at=first), replace_at(away, 0)], both)
    assert turns.tolist() == [0]  # fresher, but attentive
    later = ATTENTIVE_PRIORITY_FRAMES + 1
    turns = scheduler._iris_turns([dataclasses.replace(looking, irises_at=later), replace_at(away, 0)], both)
    assert turns.tolist() == [1]  # the face looking away waited long enough
    turns = scheduler._iris_turns([replace_at(looking, 3), replace_at(looking, 1)], both)
    assert turns.tolist() == [1]  # equals: the stalest


def replace_at(face: FollowedFace, irises_at: int) -> FollowedFace:
    return dataclasses.replace(face, irises_at=irises_at)


def test_scheduler_result_serialises_with_gaze() -> None:
    scheduler = PerceptionScheduler.from_config(Config())
    result = scheduler.analyze(frame_of(cv2.imread(str(DATA / "grace_hopper.jpg")), index=2))
    face = json.loads(json.dumps(result.to_json()))["faces"][0]
    assert face["facing"] is True and face["on_screen"] is True
    assert len(face["gaze"]) == 2 and all(isinstance(v, float) for v in face["gaze"])
    with pytest.raises(ValueError, match="read-only"):
        result.gaze[0, 0] = 1.0
