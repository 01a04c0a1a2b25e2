"""Attributes and re-identification once per track, on real portraits through the real models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.config import Config
from signage.perception.attributes import FaceAttributes
from signage.perception.pipeline import FacePipeline
from signage.perception.profiles import TrackProfiler
from signage.perception.reid import FaceEmbedder, ReidMemory
from signage.types import Attributes, Direction, FaceDetections, Frame, Gender, Tracks

DATA = Path(__file__).parent / "data"


class Counting:
    """Counts the faces a real estimator is asked about (to check the once-per-track schedule)."""

    def __init__(self, inner: FaceAttributes) -> None:
        self.inner = inner
        self.faces = 0

    def estimate(self, frame: Frame, faces: FaceDetections) -> tuple[Attributes, ...]:
        self.faces += len(faces)
        return self.inner.estimate(frame, faces)


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
