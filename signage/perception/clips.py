"""Test clips composed from real photos, with exact ground truth.

No video of faces close to a camera ships in any package we can use, so clips are built: faces cut from labelled
portraits (and their mirror images) are pasted, scaled to 60-200 px tall, onto a smooth seeded background, each in its
own cell of a 3x2 grid so none hides another, moving and growing across a segment; between segments faces enter and
leave (0 to 6 at once). The ground truth is the labelled box carried through the same scale and shift.
Used by the perception tests, benchmarks/perception.py, and anyone who needs faces with known boxes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from signage.types import Frame

PATCH_SCALE = 1.3  # the pasted patch around the face box, so the detector sees some head and hair
FEATHER_PX = 6


@dataclass(frozen=True)
class FaceSource:
    """One labelled face: the photo and the box of the face in it (x1, y1, x2, y2)."""

    image: npt.NDArray[np.uint8]
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class ClipFrame:
    frame: Frame
    truth: npt.NDArray[np.float32]  # (N, 4) boxes of the faces in it


def load_sources(folder: Path) -> list[FaceSource]:
    """Every labelled face of folder/faces.json, and its mirror image."""
    labels = json.loads((folder / "faces.json").read_text(encoding="utf-8"))
    sources = []
    for name, entry in sorted(labels.items()):
        image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(folder / name)
        width = image.shape[1]
        for face in entry["faces"]:
            x1, y1, x2, y2 = (float(v) for v in face["box"])
            photo = np.asarray(image, dtype=np.uint8)
            sources.append(FaceSource(photo, (x1, y1, x2, y2)))
            sources.append(FaceSource(np.ascontiguousarray(photo[:, ::-1]), (width - x2, y1, width - x1, y2)))
    return sources


def _background(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.uint8]:
    noise = rng.random((height // 16 + 1, width // 16 + 1, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(0.2, 0.8, width, dtype=np.float32)[None, :, None]
    result: npt.NDArray[np.uint8] = np.clip((0.5 * smooth + 0.5 * ramp) * 255, 0, 255).astype(np.uint8)
    return result


def _paste(
    canvas: npt.NDArray[np.uint8], source: FaceSource, centre: tuple[float, float], face_h: float
) -> npt.NDArray[np.float64]:
    """Paste the face so its box has height face_h and centre `centre`; return the box in canvas pixels."""
    x1, y1, x2, y2 = source.box
    scale = face_h / (y2 - y1)
    box_cx, box_cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = PATCH_SCALE * (x2 - x1) / 2, PATCH_SCALE * (y2 - y1) / 2
    patch_w, patch_h = round(2 * half_w * scale), round(2 * half_h * scale)
    # the affine map from patch pixels to source pixels, sampled in one warp (scale and crop together)
    to_source = np.array([[1 / scale, 0, box_cx - half_w], [0, 1 / scale, box_cy - half_h]], np.float64)
    patch = cv2.warpAffine(
        source.image,
        to_source,
        (patch_w, patch_h),
        flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    left, top = round(centre[0] - patch_w / 2), round(centre[1] - patch_h / 2)
    alpha = np.ones((patch_h, patch_w), np.float32)
    ramp = np.minimum(np.arange(FEATHER_PX, dtype=np.float32) / FEATHER_PX, 1.0)
    alpha[:FEATHER_PX] *= ramp[:, None]
    alpha[-FEATHER_PX:] *= ramp[::-1, None]
    alpha[:, :FEATHER_PX] *= ramp[None, :]
    alpha[:, -FEATHER_PX:] *= ramp[None, ::-1]
    region = canvas[top : top + patch_h, left : left + patch_w]
    a = alpha[: region.shape[0], : region.shape[1], None]
    region[:] = (a * patch[: region.shape[0], : region.shape[1]] + (1 - a) * region).astype(np.uint8)
    face_w = (x2 - x1) * scale
    return np.array(
        [centre[0] - face_w / 2, centre[1] - face_h / 2, centre[0] + face_w / 2, centre[1] + face_h / 2], np.float64
    )


def paste_face(
    canvas: npt.NDArray[np.uint8], source: FaceSource, centre: tuple[float, float], face_h: float
) -> npt.NDArray[np.float64]:
    """Paste `source`'s face into `canvas` (in place) with its box `face_h` pixels tall and centred on `centre`;
    returns that box (x1, y1, x2, y2): the truth for clips scripted by their own tests."""
    return _paste(canvas, source, centre, face_h)


def composed_clip(
    sources: list[FaceSource],
    *,
    seed: int,
    counts: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 3, 1, 0),
    frames_per_segment: int = 6,
    width: int = 640,
    height: int = 480,
    fps: float = 15.0,
) -> Iterator[ClipFrame]:
    """Segments with counts[i] faces each; faces move and grow within their cells during a segment."""
    rng = np.random.default_rng(seed)
    background = _background(rng, width, height)
    cell_w, cell_h = width / 3, height / 2
    index = 0
    for count in counts:
        cells = rng.choice(6, size=count, replace=False)
        faces = []
        for cell in cells:
            col, row = int(cell) % 3, int(cell) // 3
            # a lone face may be large (up to 200 px); in a crowd each face fits its cell
            largest = 200.0 if count == 1 else min(200.0, cell_h / PATCH_SCALE - 4)
            start_h, end_h = rng.uniform(60, largest, size=2)
            source = sources[int(rng.integers(len(sources)))]
            faces.append((col, row, start_h, end_h, source, rng.uniform(-1, 1, size=4)))
        for step in range(frames_per_segment):
            progress = step / max(1, frames_per_segment - 1)
            canvas = background.copy()
            truth = []
            for col, row, start_h, end_h, source, drift in faces:
                face_h = start_h + (end_h - start_h) * progress
                x1, y1, x2, y2 = source.box
                face_w = face_h * (x2 - x1) / (y2 - y1)
                # keep the whole patch inside the frame; move from one random spot of the free room to another
                room_x = max(0.0, (cell_w - PATCH_SCALE * face_w) / 2) if count > 1 else (width - face_w * 1.4) / 2
                room_y = max(0.0, (cell_h - PATCH_SCALE * face_h) / 2) if count > 1 else (height - face_h * 1.4) / 2
                home_x = (col + 0.5) * cell_w if count > 1 else width / 2
                home_y = (row + 0.5) * cell_h if count > 1 else height / 2
                cx = home_x + room_x * (drift[0] + (drift[2] - drift[0]) * progress)
                cy = home_y + room_y * (drift[1] + (drift[3] - drift[1]) * progress)
                truth.append(_paste(canvas, source, (cx, cy), face_h))
            yield ClipFrame(
                frame=Frame(canvas, t_mono=index / fps, index=index),
                truth=np.array(truth, np.float32).reshape(-1, 4),
            )
            index += 1


def iou_matrix(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """(len(a), len(b)) intersection over union of x1, y1, x2, y2 boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    result: npt.NDArray[np.float64] = inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
    return result


def match_count(truth: npt.NDArray[np.float32], found: npt.NDArray[np.float32], min_iou: float) -> int:
    """Greedy one-to-one matches at IoU >= min_iou (best pairs first)."""
    if len(truth) == 0 or len(found) == 0:
        return 0
    iou = iou_matrix(truth, found)
    matched = 0
    while True:
        i, j = np.unravel_index(int(np.argmax(iou)), iou.shape)
        if iou[i, j] < min_iou:
            return matched
        matched += 1
        iou[i, :] = -1
        iou[:, j] = -1
