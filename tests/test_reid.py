"""Re-identification embeddings on the real model and portraits; the in-RAM memory of anonymous keys.

The model is dlib's face-recognition ResNet converted to ONNX at build time; data/reid_golden.json holds dlib's own
descriptors (computed with dlib by models/build.py), so these tests check the conversion and the engine's chip
alignment against dlib without needing dlib.
"""

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
from signage.perception.reid import EMBEDDING_SIZE, MODEL_NAME, FaceEmbedder, ReidMemory, l2_normalised
from signage.types import FaceDetections, Frame

DATA = Path(__file__).parent / "data"
NAMES = sorted(json.loads((DATA / "faces.json").read_text()))
GOLDEN = json.loads((DATA / "reid_golden.json").read_text())
# dlib's rule for its descriptors: the same person below this Euclidean distance.
DLIB_SAME_PERSON_DISTANCE = 0.6


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
def descriptors() -> dict[tuple[str, str], np.ndarray]:
    """dlib-scale descriptors of every portrait variant, through YuNet and the engine's chips."""
    detector = YuNetDetector(models=ModelStore.load(default_models_dir(), names=("yunet",)))
    embedder = FaceEmbedder.from_config(Config())
    result = {}
    for name in NAMES:
        for variant, image in variants(cv2.imread(str(DATA / name))).items():
            frame = frame_of(image)
            faces = detector.detect(frame)
            assert len(faces) == 1, (name, variant)
            raw = embedder.descriptors(frame, faces)
            assert raw.shape == (1, EMBEDDING_SIZE) and raw.dtype == np.float32
            if variant == "original":  # embed is the same, L2-normalised
                np.testing.assert_allclose(embedder.embed(frame, faces), l2_normalised(raw), atol=1e-6)
            result[(name, variant)] = raw[0]
    return result


@pytest.fixture(scope="module")
def embeddings(descriptors: dict[tuple[str, str], np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    return {key: l2_normalised(vector) for key, vector in descriptors.items()}


def test_converted_model_gives_dlibs_own_descriptors() -> None:
    """The golden chips (plain pixel slices of the portraits) through the shipped ONNX file give the descriptors dlib
    itself computed for them (the build measured a largest difference of 4e-7)."""
    models = ModelStore.load(default_models_dir(), names=(MODEL_NAME,))
    assert GOLDEN["model_sha256"] == models.specs[MODEL_NAME].sha256  # the golden file belongs to this model file
    session = models.session(MODEL_NAME, threads=1)
    for name in NAMES:
        rgb = cv2.cvtColor(cv2.imread(str(DATA / name)), cv2.COLOR_BGR2RGB)
        x0, y0, step = GOLDEN["portraits"][name]["crop"]
        chip = rgb[y0 : y0 + 150 * step : step, x0 : x0 + 150 * step : step]
        assert chip.shape == (150, 150, 3)
        (ours,) = session.run(None, {session.get_inputs()[0].name: chip[None].astype(np.float32)})
        dlib_own = np.array(GOLDEN["portraits"][name]["crop_descriptor"], np.float32)
        assert float(np.max(np.abs(ours[0] - dlib_own))) < 1e-4, name


def test_engine_chips_agree_with_dlibs_own_alignment(embeddings: dict) -> None:
    """YuNet's points and chips.py stand in for dlib's detector, shape predictor and chip cutter: the embedding of
    each portrait stays next to dlib's (measured cosine 0.988-0.996) and nearest to the same person's."""
    dlib_aligned = {
        n: l2_normalised(np.array(GOLDEN["portraits"][n]["dlib_aligned_descriptor"], np.float32)) for n in NAMES
    }
    for name in NAMES:
        ours = embeddings[(name, "original")]
        similarity = {other: float(ours @ vector) for other, vector in dlib_aligned.items()}
        assert similarity[name] >= 0.98, (name, similarity)
        assert max(similarity, key=similarity.__getitem__) == name, (name, similarity)


def test_dlibs_distance_rule_holds_on_the_engines_descriptors(descriptors: dict) -> None:
    """dlib's own threshold on its raw descriptors: under 0.6 the same person (measured at most 0.26 here), over 0.6
    someone else (measured at least 0.62)."""
    for (name, variant), vector in descriptors.items():
        for (other_name, other_variant), other in descriptors.items():
            distance = float(np.linalg.norm(vector - other))
            pair = (name, variant, other_name, other_variant, round(distance, 3))
            if name == other_name:
                assert distance < DLIB_SAME_PERSON_DISTANCE, pair
            else:
                assert distance > DLIB_SAME_PERSON_DISTANCE, pair


def test_embeddings_are_unit_length_and_not_all_alike(embeddings: dict) -> None:
    vectors = np.stack(list(embeddings.values()))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    originals = np.stack([embeddings[(name, "original")] for name in NAMES])
    similarity = originals @ originals.T
    # dlib's descriptors share a large common part (other people measured 0.80-0.91); fed 0-1 pixels instead of 0-255,
    # all of them would be 1.000.
    assert similarity[~np.eye(len(NAMES), dtype=bool)].max() < 0.92


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
