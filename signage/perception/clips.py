"""Test clips composed from real photos, with exact ground truth.

No video of faces close to a camera ships in any package we can use, so clips are built: faces cut from labelled
portraits (and their mirror images) are pasted, scaled to 60-200 px tall, onto a smooth seeded background, each in its
own cell of a 3x2 grid so none hides another, moving and growing across a segment; between segments faces enter and
leave (0 to 6 at once). The ground truth is the labelled box carried through the same scale and shift.
Used by the perception tests, benchmarks/perception.py, and anyone who needs faces with known boxes.

Scripted clips (`Script` of `Actor`s, `render_script`) play scenes instead: people walk by, stop to watch, turn
their back (the back of the head replaces the face), leave and come back, on waypoints the script gives.
`truth_visits` applies the audience metric definitions (docs/metrics.md) to the exact script: every visit's dwell,
attention, passer-by and watcher, which tests/test_audience_clips.py compares with the whole live chain.

Rendered heads (`TexturedHead`, `render_head`) give head pose a known angle: a portrait's own face mesh (the landmark
model's x, y and depth) with rings around its outline for hair, ears and neck becomes a textured 3-D surface, turned
about a pivot behind the nose and drawn triangle by triangle (one affine warp each, far ones first) by an
orthographic camera; tests/test_head_pose.py reads the turns back through the production pipeline. The depth is
the model's own (about 0.9 of MediaPipe's canonical face), the texture keeps the photo's frontal lighting, and what
the photo does not show (the far cheek, the ear) is stretched from its neighbours, so turns past 45 degrees look less
real.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from signage.tracking.geometry import greedy_matches
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


def smooth_background(seed: int, width: int, height: int) -> npt.NDArray[np.uint8]:
    """The seeded smooth background of the composed clips, for scenes built elsewhere (rendered heads)."""
    return _background(np.random.default_rng(seed), width, height)


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


def match_count(truth: npt.NDArray[np.float32], found: npt.NDArray[np.float32], min_iou: float) -> int:
    """Greedy one-to-one matches at IoU >= min_iou (best pairs first)."""
    return len(greedy_matches(truth, found, min_iou))


# -- scripted clips: people who walk by, stop, turn away, leave and come back ------------------------------------

Interval = tuple[float, float]


def _inside(t: float, intervals: tuple[Interval, ...]) -> bool:
    return any(a <= t < b for a, b in intervals)


@dataclass(frozen=True)
class Actor:
    """One scripted person: the face of `sources[source]` following `path`, waypoints (t, centre x, centre y, face
    height in pixels), linear in between. In view from the first waypoint's time to the last, except while `away`
    (out of the picture); while `turned` the back of the head is shown instead of the face (no face to see).
    Every face shown looks at the camera (the portraits are frontal)."""

    source: int
    path: tuple[tuple[float, float, float, float], ...]
    away: tuple[Interval, ...] = ()
    turned: tuple[Interval, ...] = ()

    def in_view(self, t: float) -> bool:
        return self.path[0][0] <= t <= self.path[-1][0] and not _inside(t, self.away)

    def face_seen(self, t: float) -> bool:
        return self.in_view(t) and not _inside(t, self.turned)

    def place(self, t: float) -> tuple[float, float, float]:
        """Centre x, centre y and face height at time t."""
        times = [p[0] for p in self.path]
        cx, cy, h = (float(np.interp(t, times, [p[k] for p in self.path])) for k in (1, 2, 3))
        return cx, cy, h


@dataclass(frozen=True)
class Script:
    """A clip of `duration_s` seconds at `fps`: actors in front of a smooth seeded background."""

    name: str
    actors: tuple[Actor, ...]
    duration_s: float
    fps: float = 15.0
    width: int = 480
    height: int = 360
    seed: int = 0

    def times(self) -> npt.NDArray[np.float64]:
        return np.arange(round(self.duration_s * self.fps)) / self.fps


@dataclass(frozen=True)
class ScriptFrame:
    frame: Frame
    faces: dict[int, npt.NDArray[np.float64]]  # actor index → box of the face shown (the truth), faces only


def _paste_back_of_head(
    canvas: npt.NDArray[np.uint8], rng: np.random.Generator, centre: tuple[float, float], face_w: float, face_h: float
) -> None:
    """Hair where the face was: a textured dark ellipse a little larger than the face (no face to detect)."""
    half_w, half_h = 0.62 * face_w, 0.62 * face_h
    left, top = max(0, round(centre[0] - half_w)), max(0, round(centre[1] - half_h))
    right = min(canvas.shape[1], round(centre[0] + half_w))
    bottom = min(canvas.shape[0], round(centre[1] + half_h))
    if right <= left or bottom <= top:
        return
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
    inside = ((xs - centre[0]) / half_w) ** 2 + ((ys - centre[1]) / half_h) ** 2
    alpha = np.clip((1.0 - inside) * 4.0, 0.0, 1.0)[..., None]
    hair = np.array([38, 48, 62], np.float32) + rng.normal(0, 8, (bottom - top, right - left, 1)).astype(np.float32)
    region = canvas[top:bottom, left:right].astype(np.float32)
    canvas[top:bottom, left:right] = np.clip(alpha * hair + (1 - alpha) * region, 0, 255).astype(np.uint8)


def render_script(script: Script, sources: list[FaceSource]) -> Iterator[ScriptFrame]:
    """The clip's frames (timestamps from 0 at `fps`) with the box of every face shown."""
    rng = np.random.default_rng(script.seed)
    background = _background(rng, script.width, script.height)
    for index, t in enumerate(script.times().tolist()):
        canvas = background.copy()
        faces: dict[int, npt.NDArray[np.float64]] = {}
        for k, actor in enumerate(script.actors):
            if not actor.in_view(t):
                continue
            cx, cy, face_h = actor.place(t)
            source = sources[actor.source]
            if actor.face_seen(t):
                faces[k] = _paste(canvas, source, (cx, cy), face_h)
            else:
                x1, y1, x2, y2 = source.box
                _paste_back_of_head(canvas, rng, (cx, cy), face_h * (x2 - x1) / (y2 - y1), face_h)
        yield ScriptFrame(frame=Frame(canvas, t_mono=t, index=index), faces=faces)


@dataclass(frozen=True)
class TruthVisit:
    """One visit of one actor as the metric definitions (docs/metrics.md) read the exact script."""

    actor: int
    first_s: float
    last_s: float
    attention_s: float
    passer_by: bool
    watcher: bool

    @property
    def dwell_s(self) -> float:
        return self.last_s - self.first_s


def truth_visits(
    script: Script,
    *,
    lost_after_s: float,
    max_gap_s: float,
    passer_by_min_s: float,
    watcher_min_s: float,
) -> tuple[TruthVisit, ...]:
    """Every actor's visits from the frames where their face is shown (a sighting; every face shown faces the
    screen): a visit ends when the face is unseen for more than `lost_after_s`; dwell is last - first sighting;
    attention adds the time between sightings up to `max_gap_s`; a streak of facing breaks at a longer gap."""
    visits = []
    for k, actor in enumerate(script.actors):
        seen = [t for t in script.times().tolist() if actor.face_seen(t)]
        groups: list[list[float]] = []
        for t in seen:
            if groups and t - groups[-1][-1] <= lost_after_s:
                groups[-1].append(t)
            else:
                groups.append([t])
        for group in groups:
            attention = streak = longest = 0.0
            for before, after in itertools.pairwise(group):
                gap = after - before
                attention += min(gap, max_gap_s)
                streak = streak + gap if gap <= max_gap_s else 0.0
                longest = max(longest, streak)
            dwell = group[-1] - group[0]
            visits.append(
                TruthVisit(
                    actor=k,
                    first_s=group[0],
                    last_s=group[-1],
                    attention_s=attention,
                    passer_by=dwell >= passer_by_min_s,
                    watcher=dwell >= passer_by_min_s and longest >= watcher_min_s,
                )
            )
    return tuple(visits)


# The face mesh's outline (MediaPipe's face oval, in order around the face), for the head around the face.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
HEAD_RINGS = ((1.25, 0.45), (1.6, 0.9))  # rings around the face: (scale of the outline, depth behind it / face width)
PIVOT_DEPTH = 0.55  # the head turns about a point this far (in face widths) behind the nose tip
# The landmark model's depth is flatter than MediaPipe's canonical face model (canonical_face_model.obj in
# google/mediapipe, Apache-2.0): the nose tip stands ahead of the outer eye corners by 0.484 of their distance there,
# by 0.40-0.46 (mean 0.43) in the model's meshes of the test portraits. Scaling depth by this gives a head with the
# canonical proportions.
HEAD_DEPTH_SCALE = 1.13


@dataclass(frozen=True)
class TexturedHead:
    """A photo's face as a textured 3-D surface: the face mesh (x, y in the photo's pixels, z depth in the same scale,
    larger is farther) plus rings of points around its outline pushed back like the sides of a head, so hair, ears
    and neck turn with it; triangles by Delaunay on the frontal view, textured by the photo itself."""

    image: npt.NDArray[np.uint8]
    vertices: npt.NDArray[np.float64]  # (V, 3)
    triangles: npt.NDArray[np.int32]  # (T, 3)
    pivot: npt.NDArray[np.float64]  # (3,)

    @classmethod
    def from_mesh(
        cls, image: npt.NDArray[np.uint8], mesh: npt.NDArray[np.float32], *, depth_scale: float = 1.0
    ) -> TexturedHead:
        """The head of the face whose mesh is `mesh` in `image`; depth_scale deepens (> 1) or flattens its depth
        about the nose tip (HEAD_DEPTH_SCALE: MediaPipe's canonical proportions)."""
        from scipy.spatial import Delaunay  # only rendered test heads need scipy here

        points = np.asarray(mesh, np.float64).copy()
        points[:, 2] = points[1, 2] + (points[:, 2] - points[1, 2]) * depth_scale
        width = float(np.linalg.norm(points[454, :2] - points[234, :2]))
        outline = points[list(FACE_OVAL)]
        centre = points[:, :2].mean(axis=0)
        rings = [points]
        for scale, depth in HEAD_RINGS:
            ring = outline.copy()
            ring[:, :2] = centre + (outline[:, :2] - centre) * scale
            ring[:, 2] = outline[:, 2] + depth * width
            rings.append(ring)
        vertices = np.concatenate(rings)
        triangles = Delaunay(vertices[:, :2]).simplices.astype(np.int32)
        pivot = np.array([centre[0], centre[1], points[1, 2] + PIVOT_DEPTH * width])
        return cls(np.ascontiguousarray(image), vertices, triangles, pivot)


def render_head(
    head: TexturedHead,
    rotation: npt.NDArray[np.float64],
    background: npt.NDArray[np.uint8],
    *,
    offset: tuple[float, float] = (0.0, 0.0),
) -> npt.NDArray[np.uint8]:
    """The head turned by `rotation` (3x3, camera axes: x right, y down, z away) about its pivot, seen by an
    orthographic camera, drawn over a copy of `background` shifted by `offset` pixels: one affine warp per triangle
    from the photo, far triangles first, those turned away from the camera left out."""
    canvas = background.copy()
    height, width = canvas.shape[:2]
    turned = (head.vertices - head.pivot) @ rotation.T + head.pivot
    turned[:, :2] += offset
    corners = turned[head.triangles]  # (T, 3, 3)
    edge_a, edge_b = corners[:, 1, :2] - corners[:, 0, :2], corners[:, 2, :2] - corners[:, 0, :2]
    source = head.vertices[head.triangles][:, :, :2]
    src_a, src_b = source[:, 1] - source[:, 0], source[:, 2] - source[:, 0]
    # same winding as in the photo: the triangle still faces the camera
    facing = np.sign(edge_a[:, 0] * edge_b[:, 1] - edge_a[:, 1] * edge_b[:, 0]) == np.sign(
        src_a[:, 0] * src_b[:, 1] - src_a[:, 1] * src_b[:, 0]
    )
    order = np.argsort(-corners[:, :, 2].mean(axis=1), kind="stable")
    for t in order:
        if not facing[t]:
            continue
        dst = corners[t, :, :2]
        x0, y0 = np.floor(dst.min(axis=0)).astype(int)
        x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        local = (dst - (x0, y0)).astype(np.float32)
        warp = cv2.getAffineTransform(source[t].astype(np.float32), local)
        patch = cv2.warpAffine(
            head.image, warp, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(local * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
        region = canvas[y0:y1, x0:x1]
        np.copyto(region, patch, where=mask[:, :, None].astype(bool))
    return canvas
