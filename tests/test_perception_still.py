"""The engine's schedule spares the face detector on still frames, and only there: the boxes stay those of detecting
every frame, and a face that steps in, leaves or is replaced is detected on that very frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signage.config import Config
from signage.perception.clips import (
    FaceSource,
    composed_clip,
    load_sources,
    match_count,
    paste_face,
    smooth_background,
)
from signage.perception.scheduler import PerceptionScheduler, still_change
from signage.tracking.geometry import iou
from signage.types import Frame

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def sources() -> list[FaceSource]:
    return load_sources(DATA)


def with_perception(**update: object) -> Config:
    config = Config()
    return config.model_copy(update={"perception": config.perception.model_copy(update=update)})


def detected(result_timings: object) -> bool:
    return "detect" in result_timings  # type: ignore[operator]


def test_slow_faces_skip_most_detections_and_keep_the_boxes_of_detecting_every_frame(
    sources: list[FaceSource],
) -> None:
    clip = list(composed_clip(sources, seed=21, counts=(3,), frames_per_segment=36))
    every = PerceptionScheduler.from_config(with_perception(detect_still_max_skips=0))
    still = PerceptionScheduler.from_config(Config())
    most = Config().perception.detect_still_max_skips
    assert most >= 1
    run, longest = 0, 0
    ious: dict[str, list[float]] = {"every": [], "still": []}
    for clip_frame in clip:
        for name, scheduler in (("every", every), ("still", still)):
            result = scheduler.analyze(clip_frame.frame)
            assert match_count(clip_frame.truth, result.detections.boxes, 0.5) == 3 == len(result), name
            ious[name] += iou(clip_frame.truth, result.detections.boxes).max(axis=1).tolist()
            if name == "still":
                run = 0 if detected(result.timings_ms) else run + 1
                longest = max(longest, run)
                assert "still_check" in result.timings_ms
            else:
                assert detected(result.timings_ms) and "still_check" not in result.timings_ms
    assert every.detections_skipped == 0
    assert still.detections_skipped >= len(clip) // 2  # most frames of slowly moving faces go without detection
    assert longest == most  # never more in a row than the config allows
    assert np.mean(ious["still"]) >= np.mean(ious["every"]) - 0.005, (np.mean(ious["still"]), np.mean(ious["every"]))
    assert min(ious["still"]) >= 0.6


def scene(sources: list[FaceSource], faces: list[tuple[int, tuple[float, float]]]) -> np.ndarray:
    canvas = smooth_background(5, 640, 480)
    for source, centre in faces:
        paste_face(canvas, sources[source], centre, 110.0)
    return canvas


def test_a_face_that_steps_in_leaves_or_is_replaced_is_detected_on_that_frame(sources: list[FaceSource]) -> None:
    one = scene(sources, [(0, (180.0, 200.0))])
    two = scene(sources, [(0, (180.0, 200.0)), (2, (470.0, 260.0))])
    replaced = scene(sources, [(4, (180.0, 200.0)), (2, (470.0, 260.0))])
    # (picture, faces expected, whether the detector must run on that frame)
    script = [(one, 1, None)] * 6 + [(two, 2, True)] + [(two, 2, None)] * 5 + [(replaced, 2, True)]
    script += [(replaced, 2, None)] * 5 + [(one, 1, True)] + [(one, 1, None)] * 4
    scheduler = PerceptionScheduler.from_config(Config())
    skipped_before_change = []
    for index, (picture, count, must_detect) in enumerate(script):
        result = scheduler.analyze(Frame(picture, t_mono=index / 15, index=index))
        if must_detect:
            assert detected(result.timings_ms), f"frame {index}: the scene changed but the detector did not run"
            skipped_before_change.append(scheduler.detections_skipped)
        # a face that left or was replaced is not kept where it was: the right number, each on a face
        assert len(result) == count, f"frame {index}: {len(result)} faces for {count}"
    # the still frames between the changes did go without the detector (the check is not merely always failing)
    assert skipped_before_change[0] >= 2 and skipped_before_change[1] >= skipped_before_change[0] + 2


def test_the_check_ignores_changes_inside_the_followed_faces_and_their_margin_only() -> None:
    reference = np.full((120, 160), 100, np.uint8)
    face = np.array([[200.0, 160.0, 280.0, 260.0]], np.float32)  # frame pixels of a 640-wide frame: cells 4 px
    moved = reference.copy()
    moved[40:65, 50:70] = 180  # inside the face (cells 50-70, 40-65)
    assert still_change(moved, reference, face, 640) == 0
    moved[34:36, 45:47] = 150  # in the margin a quarter of the face's size (and a cell) around it
    assert still_change(moved, reference, face, 640) == 0
    moved[100, 10] = 113  # anywhere else
    assert still_change(moved, reference, face, 640) == 13
    assert still_change(moved, reference, face[:0], 640) == 80
