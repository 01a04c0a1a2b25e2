"""Perception on the real ONNX models and real public-domain photos (tests/data, labelled by hand)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.config import Config, parse_config
from signage.perception.clips import composed_clip, load_sources, match_count
from signage.perception.faces import YuNetDetector, nms
from signage.perception.head_pose import (
    CANONICAL,
    POSE_POINTS,
    angles_from_rotation,
    facing,
    head_pose,
    rotation_from_angles,
)
from signage.perception.models import ModelError, ModelStore, default_models_dir
from signage.perception.pipeline import FaceAnalysis, FacePipeline
from signage.tracking.geometry import iou
from signage.types import Frame

DATA = Path(__file__).parent / "data"
LABELS = json.loads((DATA / "faces.json").read_text())
GOLDEN = DATA / "perception_golden.json"


def frame_of(image: np.ndarray, index: int = 0) -> Frame:
    return Frame(np.ascontiguousarray(image), t_mono=0.0, index=index)


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_config(Config())


@pytest.fixture(scope="module")
def models() -> ModelStore:
    return ModelStore.load(default_models_dir(), names=("yunet",))


@pytest.mark.parametrize("name", sorted(LABELS))
@pytest.mark.parametrize("detect_width", [320, 640])
def test_every_labelled_face_found_with_iou_at_least_0_7(models: ModelStore, name: str, detect_width: int) -> None:
    detector = YuNetDetector(models=models, detect_width=detect_width)
    found = detector.detect(frame_of(cv2.imread(str(DATA / name))))
    truth = np.array([face["box"] for face in LABELS[name]["faces"]], np.float32)
    assert len(found) == len(truth), f"{name}: {len(found)} faces for {len(truth)} labelled"
    overlap = iou(truth, found.boxes)
    assert overlap.max(axis=1).min() >= 0.7, f"{name}: IoU {overlap.round(3).tolist()}"
    # the five points land near the labelled ones (within 15% of the face height)
    points = np.array(LABELS[name]["faces"][0]["points"], np.float32)
    error = np.linalg.norm(found.landmarks[0] - points, axis=1).max()
    assert error <= 0.15 * (truth[0, 3] - truth[0, 1])


def test_no_face_on_blank_frames_and_textures(models: ModelStore) -> None:
    detector = YuNetDetector(models=models)
    rng = np.random.default_rng(7)
    images = [
        np.zeros((480, 640, 3), np.uint8),
        np.full((480, 640, 3), 255, np.uint8),
        np.full((480, 640, 3), 128, np.uint8),
        rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 4),
        np.tile(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (480, 1, 3)),
        np.tile(np.linspace(0, 255, 480, dtype=np.uint8)[:, None, None], (1, 640, 3)),
        ((np.indices((480, 640)).sum(axis=0) // 20 % 2) * 255).astype(np.uint8)[:, :, None].repeat(3, axis=2),
    ]
    for i, image in enumerate(images):
        assert len(detector.detect(frame_of(image))) == 0, f"texture {i}"


def test_any_frame_size_runs(models: ModelStore) -> None:
    detector = YuNetDetector(models=models)
    image = cv2.imread(str(DATA / "astronaut.png"))
    for width, height in [(100, 77), (333, 250), (1280, 720)]:
        found = detector.detect(frame_of(cv2.resize(image, (width, height))))
        assert len(found) == 1
        assert found.boxes[0, 2] <= width and found.boxes[0, 3] <= height


@pytest.mark.parametrize("name", sorted(LABELS))
def test_yaw_flips_sign_on_a_mirrored_photo(pipeline: FacePipeline, name: str) -> None:
    image = cv2.imread(str(DATA / name))
    original = pipeline.analyze(frame_of(image))
    mirrored = pipeline.analyze(frame_of(image[:, ::-1]))
    yaw, mirrored_yaw = float(original.head_pose[0, 0]), float(mirrored.head_pose[0, 0])
    roll, mirrored_roll = float(original.head_pose[0, 2]), float(mirrored.head_pose[0, 2])
    # the model's mesh of a mirrored photo is not exactly the mirrored mesh; the canonical-face fit follows a turn at
    # ~0.95 of the angle (the earlier cheek-edge axis at ~0.74), so it shows that more: sums 0.1, 2.7, 3.7 and 0.9
    assert abs(yaw + mirrored_yaw) <= 4.5, (yaw, mirrored_yaw)
    assert abs(roll + mirrored_roll) <= 3.0, (roll, mirrored_roll)
    # pitch does not change (3.0 measured on trump.jpg, where the model reads the mirrored photo 3 deg more nodded)
    assert abs(original.head_pose[0, 1] - mirrored.head_pose[0, 1]) <= 3.5


def test_a_turned_face_has_the_right_yaw_sign(pipeline: FacePipeline) -> None:
    # the official portrait is turned towards the image's right: yaw > 0 by this package's convention
    image = cv2.imread(str(DATA / "trump.jpg"))
    assert pipeline.analyze(frame_of(image)).head_pose[0, 0] > 5
    assert pipeline.analyze(frame_of(image[:, ::-1])).head_pose[0, 0] < -5


def test_portraits_face_the_camera_and_a_rotated_photo_rolls(pipeline: FacePipeline) -> None:
    image = cv2.imread(str(DATA / "astronaut.png"))
    upright = pipeline.analyze(frame_of(image))
    assert upright.facing.tolist() == [True]
    tilted = cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), -20, 1.0), (512, 512))  # clockwise
    roll = float(pipeline.analyze(frame_of(tilted)).head_pose[0, 2])
    assert roll - float(upright.head_pose[0, 2]) == pytest.approx(20, abs=4)


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (30, 0, 0), (-25, 10, 5), (10, -20, -15)])
def test_head_pose_recovers_a_known_rotation(yaw: float, pitch: float, roll: float) -> None:
    # a synthetic mesh: the canonical face head_pose fits (the other points anywhere), scaled, rotated and moved
    mesh = np.full((468, 3), 1e4, np.float32)
    mesh[list(POSE_POINTS)] = CANONICAL * 0.1
    rotated = mesh @ rotation_from_angles(yaw, pitch, roll).T.astype(np.float32) + np.float32([300, 200, 50])
    assert head_pose(rotated) == pytest.approx((yaw, pitch, roll), abs=0.01)
    assert angles_from_rotation(rotation_from_angles(yaw, pitch, roll)) == pytest.approx((yaw, pitch, roll))


def test_facing_uses_both_angles_and_unknown_is_not_facing() -> None:
    poses = np.array([[10, 5, 0], [-30, 0, 0], [0, 25, 0], [np.nan, np.nan, np.nan]], np.float32)
    assert facing(poses, 22, 20).tolist() == [True, False, False, False]


def test_missing_or_altered_model_file_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(default_models_dir(), tmp_path / "models", ignore=shutil.ignore_patterns("*.py"))
    folder = tmp_path / "models"
    ModelStore.load(folder, names=("yunet", "face_landmark"))  # an intact copy loads
    landmark = folder / "face_landmark.onnx"
    data = bytearray(landmark.read_bytes())
    data[len(data) // 2] ^= 0xFF
    landmark.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"face_landmark\.onnx \(face_landmark\) is altered"):
        ModelStore.load(folder, names=("yunet", "face_landmark"))
    (folder / "face_detection_yunet_2023mar.onnx").unlink()
    with pytest.raises(ModelError, match=r"face_detection_yunet_2023mar\.onnx \(yunet\) is missing"):
        ModelStore.load(folder, names=("yunet",))
    config = parse_config({"perception": {"models_dir": str(folder)}})
    with pytest.raises(ModelError, match="yunet"):
        FacePipeline.from_config(config)


def test_analysis_is_frozen_and_serialisable(pipeline: FacePipeline) -> None:
    result = pipeline.analyze(frame_of(cv2.imread(str(DATA / "grace_hopper.jpg")), index=3))
    assert isinstance(result, FaceAnalysis)
    with pytest.raises(ValueError, match="read-only"):
        result.head_pose[0, 0] = 1.0
    row = json.loads(json.dumps(result.to_json()))
    assert row["frame"] == 3 and len(row["faces"]) == 1
    face = row["faces"][0]
    assert set(face) >= {"box", "score", "yaw", "pitch", "roll", "facing"}
    assert any(m.startswith("yunet@") for m in row["models"])


def clip_figures(detector: YuNetDetector) -> dict[str, float]:
    sources = load_sources(DATA)
    matched = truths = founds = 0
    for seed in (1, 2, 3):
        for clip_frame in composed_clip(sources, seed=seed):
            found = detector.detect(clip_frame.frame)
            matched += match_count(clip_frame.truth, found.boxes, 0.5)
            truths += len(clip_frame.truth)
            founds += len(found)
    return {"recall": matched / truths, "precision": matched / founds, "faces": truths}


def test_composed_clip_recall_and_precision_hold_the_golden_figures(models: ModelStore) -> None:
    settings = Config().perception
    detector = YuNetDetector(
        models=models,
        detect_width=settings.detect_width,
        score_threshold=settings.score_threshold,
        nms_iou_threshold=settings.nms_iou_threshold,
    )
    figures = clip_figures(detector)
    golden = json.loads(GOLDEN.read_text())
    assert figures["faces"] == golden["faces"], "the clip changed: regenerate the golden file on purpose"
    assert figures["recall"] >= 0.95 and figures["precision"] >= 0.95, figures
    assert figures["recall"] >= golden["recall"] - 1e-9, (figures, golden)
    assert figures["precision"] >= golden["precision"] - 1e-9, (figures, golden)


def test_nms_is_greedy_best_first() -> None:
    # b overlaps a (IoU 0.6) and c (IoU 0.6); a and c barely overlap: a suppresses b, so c survives b
    boxes = np.array([[0, 0, 10, 10], [2.5, 0, 12.5, 10], [5, 0, 15, 10], [40, 40, 50, 50]], np.float32)
    scores = np.array([0.9, 0.95, 0.8, 0.5], np.float32)
    assert nms(boxes, scores, 0.5) == [1, 3]  # b is best: it suppresses a and c
    scores = np.array([0.95, 0.9, 0.8, 0.5], np.float32)
    assert nms(boxes, scores, 0.5) == [0, 2, 3]
    assert nms(boxes, scores, 0.7) == [0, 1, 2, 3]  # nothing overlaps that much
    assert nms(boxes[:0], scores[:0], 0.5) == []
