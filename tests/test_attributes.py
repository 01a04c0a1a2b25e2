"""Age band, gender and mood on the real models and the public-domain portraits in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.config import Config
from signage.perception.attributes import (
    AGE_BIN_YEARS,
    EXPRESSIONS,
    FaceAttributes,
    Thresholds,
    age_band,
    expected_age,
    gender,
    mood,
)
from signage.perception.faces import YuNetDetector
from signage.perception.models import ModelStore, default_models_dir
from signage.types import AgeBand, FaceDetections, Frame, Gender, Mood

DATA = Path(__file__).parent / "data"
NAMES = sorted(json.loads((DATA / "faces.json").read_text()))


def frame_of(image: np.ndarray) -> Frame:
    return Frame(np.ascontiguousarray(image), t_mono=0.0, index=0)


@pytest.fixture(scope="module")
def estimator() -> FaceAttributes:
    return FaceAttributes.from_config(Config())


@pytest.fixture(scope="module")
def portraits() -> dict[str, tuple[Frame, FaceDetections]]:
    detector = YuNetDetector(models=ModelStore.load(default_models_dir(), names=("yunet",)))
    found = {}
    for name in NAMES:
        frame = frame_of(cv2.imread(str(DATA / name)))
        found[name] = (frame, detector.detect(frame))
        assert len(found[name][1]) == 1
    return found


# Age bands the portraits may plausibly get (the astronaut was in her late 30s, Grace Hopper in her 70s, Obama
# about 50 and Trump about 70 when photographed).
PLAUSIBLE_AGE = {
    "astronaut.png": {AgeBand.YOUNG_ADULT, AgeBand.ADULT},
    "grace_hopper.jpg": {AgeBand.ADULT, AgeBand.SENIOR},
    "obama.jpg": {AgeBand.ADULT, AgeBand.SENIOR},
    "trump.jpg": {AgeBand.ADULT, AgeBand.SENIOR},
}
EXPECTED_YEARS = {"astronaut.png": (25, 50), "grace_hopper.jpg": (55, 81), "obama.jpg": (40, 65), "trump.jpg": (50, 81)}


@pytest.mark.parametrize("name", NAMES)
def test_age_band_plausible(estimator: FaceAttributes, portraits: dict, name: str) -> None:
    frame, faces = portraits[name]
    (result,) = estimator.estimate(frame, faces)
    assert result.age_band in PLAUSIBLE_AGE[name], (name, result)
    years = expected_age(estimator.raw(frame, faces).age[0])
    low, high = EXPECTED_YEARS[name]
    assert low <= years <= high, f"{name}: expected age {years:.1f}"


# Grace Hopper (short hair, naval cap and uniform) was a known miss of dlib's gender network (male 0.99 at every crop).
# face-api.js's network gets her right on the inner-face chip the engine feeds it (attributes.py); on its own wider
# crop it calls her male too, so the chip was chosen on these portraits: the test below checks that the calls do not
# hang on the exact chip.
EXPECTED_GENDER = {
    "astronaut.png": Gender.FEMALE,
    "grace_hopper.jpg": Gender.FEMALE,
    "obama.jpg": Gender.MALE,
    "trump.jpg": Gender.MALE,
}


@pytest.mark.parametrize("name", NAMES)
def test_gender(estimator: FaceAttributes, portraits: dict, name: str) -> None:
    frame, faces = portraits[name]
    (result,) = estimator.estimate(frame, faces)
    assert result.gender is EXPECTED_GENDER[name], (name, result)
    assert result.gender_confidence >= 0.9


@pytest.mark.parametrize("name", NAMES)
def test_gender_holds_on_moved_points_and_smaller_faces(estimator: FaceAttributes, portraits: dict, name: str) -> None:
    """The inner-face chip the gender model sees moves with the five points: the call must not hang on their exact
    place (a live detector's points wobble from frame to frame), nor on the face's size in pixels."""
    frame, faces = portraits[name]
    points = faces.landmarks[0]
    eyes = float(np.linalg.norm(points[1] - points[0]))
    rng = np.random.default_rng(7)
    moved = [points + rng.normal(0.0, 0.03 * eyes, points.shape).astype(np.float32) for _ in range(12)]
    batch = FaceDetections(
        np.repeat(faces.boxes, len(moved), axis=0),
        np.repeat(faces.scores, len(moved), axis=0),
        np.stack(moved),
    )
    calls = [result.gender for result in estimator.estimate(frame, batch)]
    wrong = {Gender.FEMALE, Gender.MALE} - {EXPECTED_GENDER[name]}
    assert not wrong & set(calls), (name, calls)  # never the other gender; now and then not sure enough
    assert calls.count(EXPECTED_GENDER[name]) >= len(calls) - 2, (name, calls)
    half = frame_of(cv2.resize(frame.image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    small = FaceDetections(faces.boxes * 0.5, faces.scores, faces.landmarks * 0.5)
    (result,) = estimator.estimate(half, small)
    assert result.gender is EXPECTED_GENDER[name], (name, "half size", result)


def test_mood_runs_and_gives_valid_bands(estimator: FaceAttributes, portraits: dict) -> None:
    moods = {}
    for name in NAMES:
        frame, faces = portraits[name]
        raw = estimator.raw(frame, faces)
        assert raw.expressions.shape == (1, len(EXPRESSIONS))
        assert np.isclose(raw.expressions.sum(), 1.0, atol=1e-3)
        (result,) = estimator.estimate(frame, faces)
        assert result.mood in set(Mood)
        assert 0.0 <= result.mood_confidence <= 1.0
        moods[name] = result.mood
    # the astronaut and Trump smile broadly in their portraits; Obama's official portrait is not a grin
    assert moods["astronaut.png"] is Mood.POSITIVE
    assert moods["trump.jpg"] is Mood.POSITIVE
    assert moods["obama.jpg"] is not Mood.POSITIVE


def test_batch_of_faces_equals_one_by_one(estimator: FaceAttributes, portraits: dict) -> None:
    frame, faces = portraits["obama.jpg"]
    shifted = FaceDetections(faces.boxes + 3, faces.scores, faces.landmarks + 3)
    both = FaceDetections(
        np.concatenate([faces.boxes, shifted.boxes]),
        np.concatenate([faces.scores, shifted.scores]),
        np.concatenate([faces.landmarks, shifted.landmarks]),
    )
    together = estimator.raw(frame, both)
    alone = estimator.raw(frame, shifted)
    np.testing.assert_allclose(together.age[1], alone.age[0], atol=1e-5)
    np.testing.assert_allclose(together.gender[1], alone.gender[0], atol=1e-5)
    np.testing.assert_allclose(together.gender.sum(axis=1), 1.0, atol=1e-5)
    assert estimator.estimate(frame, FaceDetections.empty()) == ()


def test_bands_from_distributions() -> None:
    ages = np.zeros(len(AGE_BIN_YEARS), np.float32)
    ages[AGE_BIN_YEARS == 8] = 1.0
    assert age_band(ages, 0.5) == (AgeBand.CHILD, 1.0)
    ages[:] = 0
    ages[AGE_BIN_YEARS == 13] = ages[AGE_BIN_YEARS == 17] = 0.5
    assert age_band(ages, 0.5)[0] is AgeBand.TEEN
    ages[:] = 0
    ages[AGE_BIN_YEARS == 29] = ages[AGE_BIN_YEARS == 30] = 0.5  # split across a boundary: not sure enough
    assert age_band(ages, 0.6) == (AgeBand.UNKNOWN, 0.5)
    ages[:] = 0
    ages[-1] = 1.0
    assert age_band(ages, 0.5)[0] is AgeBand.SENIOR
    assert gender(np.array([0.6, 0.4], np.float32), 0.75)[0] is Gender.UNKNOWN
    assert gender(np.array([0.1, 0.9], np.float32), 0.75)[0] is Gender.MALE
    expressions = np.array([0.2, 0.1, 0.1, 0.0, 0.0, 0.3, 0.3], np.float32)  # negative 0.4, neutral 0.6
    assert mood(expressions, 0.5)[0] is Mood.NEUTRAL
    assert mood(expressions, 0.7)[0] is Mood.UNKNOWN
    assert Thresholds().gender == Config().perception.gender_min_confidence
