"""Frozen values between stages: validated on construction, read-only arrays, clear shape errors."""

from __future__ import annotations

import uuid
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import numpy as np
import pytest

from signage.clock import SimClock, iso_utc, parse_iso_utc
from signage.ids import id_unix_ms, new_id
from signage.types import (
    Attributes,
    Context,
    Decision,
    FaceDetections,
    Frame,
    Observation,
    Tracks,
)


def test_frame_checks_image() -> None:
    Frame(np.zeros((4, 6, 3), np.uint8), 0.0, 0)
    with pytest.raises(ValueError, match=r"expected shape \(H, W, 3\)"):
        Frame(np.zeros((4, 6), np.uint8), 0.0, 0)
    with pytest.raises(ValueError, match="uint8"):
        Frame(np.zeros((4, 6, 3), np.float32), 0.0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="H, W > 0"):
        Frame(np.zeros((0, 6, 3), np.uint8), 0.0, 0)


def test_detections_shapes_and_filter() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 20]], np.float32)
    det = FaceDetections(boxes, np.array([0.9, 0.4]), np.zeros((2, 5, 2)))
    assert len(det) == 2 and det.boxes.dtype == np.float32
    kept = det.filter(det.scores > 0.5)
    assert len(kept) == 1 and len(det) == 2
    with pytest.raises(ValueError, match=r"expected shape \(N, 4\), got \(2, 5\)"):
        FaceDetections(np.zeros((2, 5)), np.zeros(2), np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="column lengths differ"):
        FaceDetections(boxes, np.zeros(3), np.zeros((2, 5, 2)))
    assert len(FaceDetections.empty()) == 0


def test_arrays_are_copied_and_read_only() -> None:
    boxes = np.array([[0, 0, 10, 10]], np.float32)
    det = FaceDetections(boxes, np.array([0.9]), np.zeros((1, 5, 2)))
    boxes[0, 0] = 99  # the caller's array is not the value's array
    assert det.boxes[0, 0] == 0
    with pytest.raises(ValueError, match="read-only"):
        det.boxes[0, 0] = 1
    with pytest.raises(FrozenInstanceError):
        det.boxes = boxes  # type: ignore[misc]


def test_tracks_validation_and_facing() -> None:
    tracks = Tracks(
        ids=np.array([1, 2, 3]),
        boxes=np.zeros((3, 4)),
        head_pose=np.array([[10, 5, 0], [40, 0, 0], [np.nan, np.nan, np.nan]]),
        returning=np.array([False, True, False]),
        group_ids=np.array([-1, 4, 4]),
        attributes=(Attributes(),) * 3,
        directions=("standing", "standing", "leaving"),  # type: ignore[arg-type]
    )
    assert tracks.facing(22, 20).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="unique"):
        Tracks(
            np.array([1, 1]),
            np.zeros((2, 4)),
            np.zeros((2, 3)),
            np.zeros(2, bool),
            np.zeros(2),
            (Attributes(),) * 2,
            ("unknown",) * 2,
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected 2 rows"):
        Tracks(
            np.array([1, 2]),
            np.zeros((2, 4)),
            np.zeros((1, 3)),
            np.zeros(2, bool),
            np.zeros(2),
            (Attributes(),) * 2,
            ("unknown",) * 2,
        )  # type: ignore[arg-type]
    assert len(Tracks.empty()) == 0


@pytest.mark.parametrize("confidence", [-0.1, 1.5, float("nan")])
def test_attribute_confidence_range(confidence: float) -> None:
    with pytest.raises(ValueError, match="age_confidence"):
        Attributes(age_confidence=confidence)


def test_decision_propensity() -> None:
    assert Decision("a", 0.25, "why").propensity == 0.25
    for bad in (0.0, 1.01, float("nan")):
        with pytest.raises(ValueError, match="propensity"):
            Decision("a", bad, "why")


def test_context_validation_and_frozen_features() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    features = {"x": 1.0}
    ctx = Context(now, 10, 3, 2, 1, False, False, True, features)
    features["x"] = 5.0
    assert ctx.features["x"] == 1.0
    with pytest.raises(TypeError):
        ctx.features["y"] = 2.0  # type: ignore[index]
    with pytest.raises(ValueError, match="n_watching"):
        Context(now, 10, 3, 1, 2, False, False, True)
    with pytest.raises(ValueError, match="finite"):
        Context(now, 10, 3, 1, 1, False, False, True, {"x": float("inf")})
    with pytest.raises(ValueError, match="timezone-aware"):
        Observation(0.0, datetime(2026, 1, 1), Tracks.empty())


def test_ids_are_uuid7_unique_and_time_ordered() -> None:
    ids = [new_id(unix_ms=1_700_000_000_000 + i) for i in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert id_unix_ms(ids[5]) == 1_700_000_000_005
    assert len({new_id() for _ in range(10_000)}) == 10_000
    with pytest.raises(ValueError, match="UUIDv7"):
        id_unix_ms(str(uuid.uuid4()))


def test_sim_clock_and_times() -> None:
    clock = SimClock(start_utc=datetime(2026, 1, 1, tzinfo=UTC))
    for _ in range(36_000):
        clock.advance(0.1)
    assert clock.monotonic() == 3600.0
    assert iso_utc(clock.utc()) == "2026-01-01T01:00:00.000000Z"
    assert parse_iso_utc(iso_utc(clock.utc())) == clock.utc()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
