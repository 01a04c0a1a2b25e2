"""Re-identification embeddings on the real model and portraits; the in-RAM memory of anonymous keys."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.config import Config
from signage.perception.faces import YuNetDetector
from signage.perception.models import ModelStore, default_models_dir
from signage.perception.reid import EMBEDDING_SIZE, FaceEmbedder, ReidMemory
from signage.types import FaceDetections, Frame

DATA = Path(__file__).parent / "data"
NAMES = sorted(json.loads((DATA / "faces.json").read_text()))


def frame_of(image: np.ndarray) -> Frame:
    return Frame(np.ascontiguousarray(image), t_mono=0.0, index=0)


def variants(image: np.ndarray) -> dict[str, np.ndarray]:
    """Small changes a returning person shows: crop jitter, mirror, brighter, darker, smaller."""
    return {
        "original": image,
        "jitter": image[8:, 12:],
        "mirror": image[:, ::-1],
        "brighter": cv2.convertScaleAbs(image, alpha=1.0, beta=40),
        "darker": cv2.convertScaleAbs(image, alpha=0.7, beta=0),
        "smaller": cv2.resize(image, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA),
    }


@pytest.fixture(scope="module")
def embeddings() -> dict[tuple[str, str], np.ndarray]:
    detector = YuNetDetector(models=ModelStore.load(default_models_dir(), names=("yunet",)))
    embedder = FaceEmbedder.from_config(Config())
    result = {}
    for name in NAMES:
        for variant, image in variants(cv2.imread(str(DATA / name))).items():
            frame = frame_of(image)
            faces = detector.detect(frame)
            assert len(faces) == 1, (name, variant)
            vectors = embedder.embed(frame, faces)
            assert vectors.shape == (1, EMBEDDING_SIZE) and vectors.dtype == np.float32
            result[(name, variant)] = vectors[0]
    return result


def test_embeddings_are_unit_length_and_not_all_alike(embeddings: dict) -> None:
    vectors = np.stack(list(embeddings.values()))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    originals = np.stack([embeddings[(name, "original")] for name in NAMES])
    similarity = originals @ originals.T
    assert similarity[~np.eye(len(NAMES), dtype=bool)].max() < 0.8  # fed 0-1 pixels, all would be ~1


def test_same_face_under_small_changes_is_closer_than_other_people(embeddings: dict) -> None:
    threshold = Config().perception.reid_match_similarity
    for name in NAMES:
        reference = embeddings[(name, "original")]
        same = [float(reference @ v) for (n, variant), v in embeddings.items() if n == name and variant != "original"]
        other = [float(reference @ v) for (n, _), v in embeddings.items() if n != name]
        assert min(same) > max(other), f"{name}: same {min(same):.3f} vs other {max(other):.3f}"
        assert min(same) >= threshold > max(other), f"{name}: threshold {threshold} does not separate them"


def test_no_faces_no_embeddings() -> None:
    embedder = FaceEmbedder.from_config(Config())
    frame = frame_of(np.zeros((120, 160, 3), np.uint8))
    assert embedder.embed(frame, FaceDetections.empty()).shape == (0, EMBEDDING_SIZE)


def test_memory_same_key_for_the_same_person_new_keys_for_others(embeddings: dict) -> None:
    memory = ReidMemory.from_config(Config())
    first = {name: memory.match_or_enrol(embeddings[(name, "original")], t=0.0) for name in NAMES}
    assert len(set(first.values())) == len(NAMES)
    assert all(len(key) == 16 for key in first.values())
    for t, variant in enumerate(("jitter", "mirror", "brighter", "darker", "smaller"), start=1):
        for name in NAMES:
            assert memory.match_or_enrol(embeddings[(name, variant)], t=60.0 * t) == first[name], (name, variant)
    assert len(memory) == len(NAMES)


def test_memory_forgets_after_the_ttl(embeddings: dict) -> None:
    memory = ReidMemory(match_similarity=Config().perception.reid_match_similarity, ttl_s=1800.0)
    obama, trump = embeddings[("obama.jpg", "original")], embeddings[("trump.jpg", "original")]
    key = memory.match_or_enrol(obama, t=100.0)
    assert memory.match_or_enrol(embeddings[("obama.jpg", "mirror")], t=1800.0) == key  # seen again: TTL restarts
    memory.match_or_enrol(trump, t=3500.0)
    assert memory.match_or_enrol(obama, t=3599.0) == key  # 1799 s after last seen: remembered
    memory.match_or_enrol(trump, t=5400.0)  # 1801 s after Obama was last seen: he is forgotten here
    assert len(memory) == 1
    new_key = memory.match_or_enrol(obama, t=5401.0)
    assert new_key != key


def test_memory_has_no_way_to_disk_or_log() -> None:
    memory = ReidMemory(match_similarity=0.75)
    vector = np.ones(EMBEDDING_SIZE, np.float32)
    key = memory.match_or_enrol(vector, t=0.0)
    public = {name for name in dir(memory) if not name.startswith("_")}
    assert public == {"match_or_enrol", "from_config"}
    with pytest.raises(TypeError):
        pickle.dumps(memory)
    with pytest.raises(TypeError):
        copy.deepcopy(memory)
    with pytest.raises(TypeError):
        copy.copy(memory)
    text = repr(memory) + str(memory)
    assert key not in text and "0.03" not in text  # neither keys nor embedding values are printed


def test_memory_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="match_similarity"):
        ReidMemory(match_similarity=1.5)
    with pytest.raises(ValueError, match="ttl_s"):
        ReidMemory(match_similarity=0.5, ttl_s=0)
