"""Re-identification: a face embedding per track, and an in-RAM memory that turns embeddings into anonymous keys.

`FaceEmbedder.embed(frame, faces)` gives one L2-normalised 128-d embedding per face (dlib's face-recognition ResNet,
CC0, converted to ONNX by models/build.py and checked against dlib's own descriptors), meant to run once per track,
not per frame. `ReidMemory` matches an
embedding against the people seen in the last `ttl_s` seconds and returns the same anonymous random key for the
same person, or enrols a new one. Privacy by design: embeddings live only in this object's RAM, expire after the
time-to-live, and there is no way to save, load, pickle, print or log them; the keys are random, not derived from
the face.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import NoReturn, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from signage.config import Config
from signage.perception.chips import face_chip
from signage.perception.models import ModelStore, resolve_models_dir
from signage.types import FaceDetections, Frame

MODEL_NAME = "dlib_face"
EMBEDDING_OUTPUT = "descriptor"
EMBEDDING_SIZE = 128
CHIP_SIZE = 150
# dlib cuts its recognition chips with padding 0.25 around its mean face; chips.TEMPLATE is laid out for padding 0.2,
# so the face is scaled by (1 + 2 * 0.2) / (1 + 2 * 0.25) about the chip's centre.
CHIP_SCALE = 1.4 / 1.5


class Embedder(Protocol):
    def embed(self, frame: Frame, faces: FaceDetections) -> npt.NDArray[np.float32]: ...


def l2_normalised(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), np.float32)


class FaceEmbedder:
    """`embed(frame, faces) -> (N, 128) float32`, rows L2-normalised (cosine similarity = dot product)."""

    def __init__(self, *, models: ModelStore, threads: int = 1) -> None:
        self._session = models.session(MODEL_NAME, threads=threads)
        self._input_name = self._session.get_inputs()[0].name
        self.model_version = models.specs[MODEL_NAME].version

    @classmethod
    def from_config(cls, config: Config) -> FaceEmbedder:
        settings = config.perception
        models = ModelStore.load(resolve_models_dir(settings.models_dir), names=(MODEL_NAME,))
        return cls(models=models, threads=settings.intra_op_threads)

    def embed(self, frame: Frame, faces: FaceDetections) -> npt.NDArray[np.float32]:
        return l2_normalised(self.descriptors(frame, faces))

    def descriptors(self, frame: Frame, faces: FaceDetections) -> npt.NDArray[np.float32]:
        """dlib's raw 128-d descriptors (N, 128), not normalised: dlib calls two faces one person below a Euclidean
        distance of 0.6 on these."""
        if len(faces) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        chips = np.stack([face_chip(rgb, points, CHIP_SIZE, CHIP_SCALE) for points in faces.landmarks])
        # RGB 0-255: the graph applies dlib's own input scaling.
        (descriptors,) = self._session.run([EMBEDDING_OUTPUT], {self._input_name: chips.astype(np.float32)})
        return np.asarray(descriptors, np.float32).reshape(len(faces), EMBEDDING_SIZE)


@dataclass
class _Person:
    key: str
    embedding: npt.NDArray[np.float32] = field(repr=False)
    last_seen: float
    sightings: int = 1


class ReidMemory:
    """Anonymous keys for returning people, from embeddings kept in RAM only, for at most `ttl_s` after last seen.

    `match_or_enrol(embedding, t)` compares the (L2-normalised) embedding with every remembered person by cosine
    similarity; the best match at or above `match_similarity` gets its key back (and its remembered embedding
    moves towards the new one), otherwise a new random key is enrolled. `t` is monotonic seconds. People not seen
    for `ttl_s` are forgotten on the next call. Nothing here can be saved, pickled, copied or printed.
    """

    def __init__(self, *, match_similarity: float, ttl_s: float = 1800.0, max_people: int = 10_000) -> None:
        if not -1.0 < match_similarity < 1.0:
            raise ValueError(f"match_similarity must be in (-1, 1), got {match_similarity}")
        if ttl_s <= 0 or max_people < 1:
            raise ValueError(f"ttl_s and max_people must be positive, got {ttl_s}, {max_people}")
        self._match_similarity = match_similarity
        self._ttl_s = ttl_s
        self._max_people = max_people
        self._people: list[_Person] = []

    @classmethod
    def from_config(cls, config: Config) -> ReidMemory:
        settings = config.perception
        return cls(match_similarity=settings.reid_match_similarity, ttl_s=settings.reid_ttl_s)

    def match_or_enrol(self, embedding: npt.NDArray[np.float32], t: float) -> str:
        vector = l2_normalised(np.asarray(embedding, np.float32).reshape(-1))
        self._forget_before(t - self._ttl_s)
        if self._people:
            remembered = np.stack([person.embedding for person in self._people])
            similarity = remembered @ vector
            best = int(np.argmax(similarity))
            if float(similarity[best]) >= self._match_similarity:
                person = self._people[best]
                person.sightings += 1
                person.embedding = l2_normalised(person.embedding * (person.sightings - 1) + vector)
                person.last_seen = max(person.last_seen, t)
                return person.key
        if len(self._people) >= self._max_people:
            self._people.remove(min(self._people, key=lambda person: person.last_seen))
        person = _Person(key=secrets.token_hex(8), embedding=vector, last_seen=t)
        self._people.append(person)
        return person.key

    def __len__(self) -> int:
        """How many people are remembered (expired ones are dropped on the next match)."""
        return len(self._people)

    def _forget_before(self, oldest: float) -> None:
        self._people = [person for person in self._people if person.last_seen >= oldest]

    def __repr__(self) -> str:
        return f"ReidMemory(people={len(self._people)}, ttl_s={self._ttl_s})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("ReidMemory is never persisted: embeddings live in RAM only")

    def __copy__(self) -> NoReturn:
        raise TypeError("ReidMemory is not copied: embeddings live in one place, in RAM only")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("ReidMemory is not copied: embeddings live in one place, in RAM only")


__all__ = ["Embedder", "FaceEmbedder", "ReidMemory", "l2_normalised"]
