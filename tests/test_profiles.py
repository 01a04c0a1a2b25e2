"""Attributes and re-identification once per track, on real portraits through the real models."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from signage.audience import AudienceStage
from signage.config import AudienceConfig, Config
from signage.ids import new_id
from signage.perception.attributes import FaceAttributes
from signage.perception.pipeline import FacePipeline
from signage.perception.profiles import TrackProfiler
from signage.perception.reid import FaceEmbedder, ReidMemory
from signage.records import PlayRecord
from signage.types import Attributes, Direction, FaceDetections, Frame, Gender, Mood, Observation, Tracks

DATA = Path(__file__).parent / "data"


class Counting:
    """Counts the faces a real estimator is asked about (to check the once-per-track schedule)."""

    def __init__(self, inner: FaceAttributes) -> None:
        self.inner = inner
        self.faces = 0

    def estimate(self, frame: Frame, faces: FaceDetections) -> tuple[Attributes, ...]:
        self.faces += len(faces)
        return self.inner.estimate(frame, faces)

    def moods(self, frame: Frame, faces: FaceDetections) -> tuple[tuple[Mood, float], ...]:
        self.faces += len(faces)
        return self.inner.moods(frame, faces)


@pytest.fixture(scope="module")
def models() -> tuple[FacePipeline, FaceAttributes, FaceEmbedder]:
    config = Config()
    return FacePipeline.from_config(config), FaceAttributes.from_config(config), FaceEmbedder.from_config(config)


def side_by_side(*names: str) -> Frame:
    images = [cv2.resize(cv2.imread(str(DATA / name)), (320, 400)) for name in names]
    return Frame(np.ascontiguousarray(np.hstack(images)), 0.0, 0)


def tracks_for(faces: FaceDetections, head_pose: np.ndarray, ids: list[int]) -> Tracks:
    n = len(ids)
    return Tracks(
        ids=np.array(ids),
        boxes=faces.boxes,
        head_pose=head_pose,
        returning=np.zeros(n, bool),
        group_ids=np.full(n, -1),
        attributes=(Attributes(),) * n,
        directions=(Direction.STANDING,) * n,
    )


def test_profiles_once_per_track_and_recognises_a_return(
    models: tuple[FacePipeline, FaceAttributes, FaceEmbedder],
) -> None:
    pipeline, attributes, embedder = models
    counting = Counting(attributes)
    profiler = TrackProfiler(
        attributes=counting,
        embedder=embedder,
        memory=ReidMemory(match_similarity=Config().perception.reid_match_similarity),
        max_faces_per_frame=1,
    )
    frame = side_by_side("obama.jpg", "trump.jpg")
    analysis = pipeline.analyze(frame)
    assert len(analysis.detections) == 2
    order = np.argsort(analysis.detections.boxes[:, 0])  # left face (Obama) first
    faces = analysis.detections.filter(np.isin(np.arange(2), order[:1]))
    pose = analysis.head_pose[order[:1]]

    first = profiler.annotate(frame, faces, tracks_for(faces, pose, [1]), t=0.0)
    assert first.attributes[0].gender is Gender.MALE and first.person_keys[0] and not first.returning[0]
    again = profiler.annotate(frame, faces, tracks_for(faces, pose, [1]), t=1.0)
    assert counting.faces == 1, "a known track is not profiled again before its refresh time"
    assert again.person_keys == first.person_keys

    # The same person leaves and comes back as a new track: same anonymous key, flagged returning.
    profiler.annotate(frame, FaceDetections.empty(), Tracks.empty(), t=5.0)
    back = profiler.annotate(frame, faces, tracks_for(faces, pose, [7]), t=60.0)
    assert back.person_keys == first.person_keys and back.returning[0]

    # Two new people at once: one is profiled this frame, the other on the next.
    both, ids = analysis.detections, [10, 11]
    one = profiler.annotate(frame, both, tracks_for(both, analysis.head_pose, ids), t=61.0)
    assert sum(bool(k) for k in one.person_keys) == 1
    two = profiler.annotate(frame, both, tracks_for(both, analysis.head_pose, ids), t=61.1)
    assert all(two.person_keys) and two.person_keys[0] != two.person_keys[1]


# -- reaction to content: the mood is measured again after an item starts ------------------------------------------


class Expressions:
    """A stand-in estimator: each face's mood is what the script says at the current time (frames are blank)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.smiles_from: dict[int, float] = {}  # face index → when that face starts smiling
        self.asked: list[tuple[float, int]] = []  # (time, faces)

    def estimate(self, frame: Frame, faces: FaceDetections) -> tuple[Attributes, ...]:
        return tuple(Attributes(mood=feeling, mood_confidence=share) for feeling, share in self.moods(frame, faces))

    def moods(self, frame: Frame, faces: FaceDetections) -> tuple[tuple[Mood, float], ...]:
        self.asked.append((self.now, len(faces)))
        out = []
        for box in faces.boxes.tolist():
            face = int(box[0] // 100)  # faces are laid out 100 px apart
            smiling = self.now >= self.smiles_from.get(face, math.inf)
            out.append((Mood.POSITIVE if smiling else Mood.NEUTRAL, 0.9))
        return tuple(out)


BLANK = Frame(np.zeros((240, 640, 3), np.uint8), 0.0, 0)


def row_of(n: int, yaw: list[float]) -> tuple[FaceDetections, Tracks]:
    boxes = np.array([[100 * k + 10, 40, 100 * k + 70, 100] for k in range(n)], np.float32)
    faces = FaceDetections(boxes, np.ones(n, np.float32), np.zeros((n, 5, 2), np.float32))
    pose = np.array([[y, 0.0, 0.0] for y in yaw], np.float32)
    return faces, tracks_for(faces, pose, list(range(1, n + 1)))


def test_after_an_item_starts_the_watching_faces_moods_are_measured_again_within_a_budget() -> None:
    stub = Expressions()
    profiler = TrackProfiler(
        attributes=stub, embedder=None, memory=None, max_faces_per_frame=4, reaction_faces_per_frame=2
    )
    faces, tracks = row_of(4, [0.0, 5.0, 60.0, -3.0])  # the third face looks away
    for k in range(10):  # profiled once on arrival
        stub.now = k * 0.1
        profiler.annotate(BLANK, faces, tracks, stub.now)
    assert sum(n for _, n in stub.asked) == 4
    stub.asked.clear()
    stub.smiles_from = {0: 1.5, 1: 1.5}
    profiler.item_started(1.0)
    moods = []
    for k in range(10, 40):
        stub.now = k * 0.1
        moods.append(profiler.annotate(BLANK, faces, tracks, stub.now).attributes)
    # nothing before 1 s after the start (2.0), then the three facing faces, at most two per frame, once each
    assert [(round(t, 1), n) for t, n in stub.asked] == [(2.0, 2), (2.1, 1)]
    assert profiler.reaction_refreshes == 3
    last = moods[-1]
    assert [a.mood for a in last] == [Mood.POSITIVE, Mood.POSITIVE, Mood.NEUTRAL, Mood.NEUTRAL]
    assert moods[9][0].mood is Mood.NEUTRAL  # 1.9 s: not measured yet
    # Too late for a reaction: a start announced 5 s ago refreshes nothing.
    stub.asked.clear()
    profiler.item_started(0.0)
    profiler.annotate(BLANK, faces, tracks, 5.0)
    assert stub.asked == []


def test_a_mood_change_after_an_item_starts_shows_in_the_exposure() -> None:
    """Profiler → audience as `signage run` chains them: a viewer neutral while item a plays smiles 0.5 s after item b
    starts. With the start announced the exposure to b reads neutral before, positive after; without it (moods only
    every 20 s) before and after are the same."""
    results = {}
    for announced in (True, False):
        stub = Expressions()
        stub.smiles_from = {0: 10.5}
        profiler = TrackProfiler(attributes=stub, embedder=None, memory=None)
        stage = AudienceStage(AudienceConfig(), session_id="s", model_versions="test")
        t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
        first = PlayRecord(new_id(), "s", new_id(), "a", t0, 0.0)
        second = PlayRecord(new_id(), "s", new_id(), "b", t0 + timedelta(seconds=10), 10.0)
        faces, tracks = row_of(1, [0.0])
        closed = []
        for k in range(0, 141):
            t = k * 0.1
            stub.now = t
            play = first if t < 10.0 else second
            if announced and k == 100:
                profiler.item_started(10.0)
            annotated = profiler.annotate(BLANK, faces, tracks, t)
            observation = Observation(t_mono=t, t_utc=t0 + timedelta(seconds=t), tracks=annotated)
            closed += stage.update(observation, play).closed_exposures
        closed += stage.close_all(14.0, t0 + timedelta(seconds=14)).closed_exposures
        (b,) = [e for e in closed if e.item_id == "b"]
        results[announced] = (b.mood_before, b.mood_after)
    assert results[True] == (Mood.NEUTRAL, Mood.POSITIVE)
    assert results[False] == (Mood.NEUTRAL, Mood.NEUTRAL)


class CountingSession:
    """Counts the calls to a real onnxruntime session (and passes them on)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.run(*args, **kwargs)

    def get_inputs(self) -> Any:
        return self.inner.get_inputs()


def test_a_reaction_refresh_runs_only_the_mood_model_and_keeps_age_and_gender(
    models: tuple[FacePipeline, FaceAttributes, FaceEmbedder],
) -> None:
    pipeline, _, _ = models
    attributes = FaceAttributes.from_config(Config())  # its own sessions, wrapped to count each model's calls
    sessions = {name: CountingSession(getattr(attributes, name)) for name in ("_age", "_gender", "_mood")}
    for name, session in sessions.items():
        setattr(attributes, name, session)
    calls = lambda: {name: session.calls for name, session in sessions.items()}  # noqa: E731
    profiler = TrackProfiler(attributes=attributes, embedder=None, memory=None, max_faces_per_frame=2)
    frame = side_by_side("obama.jpg", "trump.jpg")
    analysis = pipeline.analyze(frame)
    tracks = tracks_for(analysis.detections, analysis.head_pose, [1, 2])
    first = profiler.annotate(frame, analysis.detections, tracks, t=0.0)
    assert calls() == {"_age": 1, "_gender": 1, "_mood": 1}  # both faces profiled in one batched call per model
    assert [a.gender for a in first.attributes] == [Gender.MALE, Gender.MALE]

    profiler.item_started(1.0)
    profiler.annotate(frame, analysis.detections, tracks, t=1.5)  # too early for a reaction: nothing runs
    assert calls() == {"_age": 1, "_gender": 1, "_mood": 1}
    # a neutral face after the start: the reaction refresh must overwrite the mood it measures
    known = [replace(a, mood=Mood.UNKNOWN, mood_confidence=0.0) for a in first.attributes]
    for track_id, profile_attributes in zip((1, 2), known, strict=True):
        profiler._profiles[track_id].attributes = profile_attributes
    after = profiler.annotate(frame, analysis.detections, tracks, t=2.0)
    assert calls() == {"_age": 1, "_gender": 1, "_mood": 2}, "the reaction ran a model other than mood"
    assert profiler.reaction_refreshes == 2
    for before, now in zip(first.attributes, after.attributes, strict=True):
        assert (now.age_band, now.age_confidence) == (before.age_band, before.age_confidence)
        assert (now.gender, now.gender_confidence) == (before.gender, before.gender_confidence)
        # the mood measured again is the mood model's own reading of the face (the same frame: the same mood)
        assert (now.mood, now.mood_confidence) == (before.mood, before.mood_confidence)
    # the mood-only path reads what the full estimate reads
    assert attributes.moods(frame, analysis.detections) == tuple(
        (a.mood, a.mood_confidence) for a in attributes.estimate(frame, analysis.detections)
    )
