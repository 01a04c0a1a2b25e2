"""Composed scenes with exact ground truth, to test and benchmark the tracker without a camera.

A scene is people moving on known piecewise-linear paths; each frame yields the detections a perception stage
would give (with seeded jitter, missed detections and the odd ghost) and the truth: who is where, and whether
their face is visible. Scoring follows MOT practice: truth and tracks are matched per frame by IoU (Hungarian),
and an identity switch is a person whose matched track id changes while they stay in view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from signage.tracking.detections import PersonDetections
from signage.tracking.geometry import BODY_HEIGHT_PER_FACE, BODY_WIDTH_PER_FACE, HEAD_ABOVE_FACE, iou
from signage.types import Tracks

WIDTH_PER_HEIGHT = 0.4  # body box width / height of a standing adult
FACING_YAW = 5.0  # yaw of a face towards the screen, degrees
PROFILE_YAW = 60.0  # yaw of a face seen walking past
MATCH_MIN_IOU = 0.3


Interval = tuple[float, float]


def _inside(t: float, intervals: Sequence[Interval]) -> bool:
    return any(a <= t < b for a, b in intervals)


@dataclass(frozen=True)
class Walker:
    """One person: `path` is (t, centre x, centre y, body height) waypoints, linear in between; out of view before
    the first and after the last, and during `away`. `back_turned`: face not visible; `body_hidden`: body not
    detected (too close, cut by the frame); `facing`: face turned to the screen."""

    person: int
    path: tuple[tuple[float, float, float, float], ...]
    away: tuple[Interval, ...] = ()
    back_turned: tuple[Interval, ...] = ()
    body_hidden: tuple[Interval, ...] = ()
    facing: tuple[Interval, ...] = ()

    def visible(self, t: float) -> bool:
        return self.path[0][0] <= t <= self.path[-1][0] and not _inside(t, self.away)

    def body(self, t: float) -> np.ndarray:
        times = [p[0] for p in self.path]
        cx, cy, h = (float(np.interp(t, times, [p[k] for p in self.path])) for k in (1, 2, 3))
        w = h * WIDTH_PER_HEIGHT
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])

    def face(self, t: float) -> np.ndarray:
        x1, y1, x2, y2 = self.body(t)
        fw, fh = (x2 - x1) / BODY_WIDTH_PER_FACE, (y2 - y1) / BODY_HEIGHT_PER_FACE
        cx, top = (x1 + x2) / 2, y1 + HEAD_ABOVE_FACE * fh
        return np.array([cx - fw / 2, top, cx + fw / 2, top + fh])


@dataclass(frozen=True)
class Scene:
    name: str
    walkers: tuple[Walker, ...]
    duration_s: float
    fps: float = 10.0
    jitter: float = 0.02  # box noise, share of the box size
    miss_rate: float = 0.05  # each detection independently missed
    ghost_rate: float = 0.03  # a spurious face per frame
    frame_size: tuple[int, int] = (1280, 720)
    seed: int = 0

    def frames(self) -> Iterator[tuple[float, PersonDetections, dict[int, np.ndarray], dict[int, bool]]]:
        """(t, detections, true body box per visible person, facing per visible person) for every frame."""
        rng = np.random.default_rng(self.seed)
        for k in range(round(self.duration_s * self.fps)):
            t = k / self.fps
            bodies, faces, poses = [], [], []
            truth: dict[int, np.ndarray] = {}
            facing: dict[int, bool] = {}
            for walker in self.walkers:
                if not walker.visible(t):
                    continue
                body = walker.body(t)
                truth[walker.person] = body
                looking = _inside(t, walker.facing) and not _inside(t, walker.back_turned)
                facing[walker.person] = looking
                if not _inside(t, walker.body_hidden) and rng.random() >= self.miss_rate:
                    bodies.append(self._jitter(body, rng))
                if not _inside(t, walker.back_turned) and rng.random() >= self.miss_rate:
                    faces.append(self._jitter(walker.face(t), rng))
                    poses.append([FACING_YAW if looking else PROFILE_YAW, 0.0, 0.0])
            if rng.random() < self.ghost_rate:
                x, y = rng.uniform(0, self.frame_size[0] - 60), rng.uniform(0, self.frame_size[1] - 60)
                faces.append(np.array([x, y, x + 40, y + 50]))
                poses.append([PROFILE_YAW, 0.0, 0.0])
            yield t, PersonDetections.build(bodies=bodies, faces=faces, head_pose=poses), truth, facing

    def _jitter(self, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        result: np.ndarray = box + rng.normal(0, self.jitter, 4) * size
        return result


@dataclass
class Score:
    """MOT-style counts for one scene."""

    id_switches: int = 0
    new_ids_on_return: int = 0
    false_tracks: int = 0
    matched_frames: int = 0
    truth_frames: int = 0
    ids_per_person: dict[int, set[int]] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.matched_frames / self.truth_frames if self.truth_frames else 1.0

    def as_json(self) -> dict[str, float | int]:
        return {
            "id_switches": self.id_switches,
            "new_ids_on_return": self.new_ids_on_return,
            "false_tracks": self.false_tracks,
            "coverage": round(self.coverage, 3),
        }


class Scorer:
    """Matches tracks to truth frame by frame and counts identity switches (see the module docstring)."""

    def __init__(self) -> None:
        self.score = Score()
        self._last_id: dict[int, int] = {}
        self._was_visible: dict[int, bool] = {}
        self._returned: set[int] = set()
        self._track_frames: dict[int, int] = {}
        self._track_matched: dict[int, int] = {}

    def add(self, tracks: Tracks, truth: dict[int, np.ndarray]) -> dict[int, int]:
        """Score one frame; returns person -> matched track id."""
        people = sorted(truth)
        for person in list(self._was_visible):
            if person not in truth and self._was_visible[person]:
                self._was_visible[person] = False
        for person in people:
            if person in self._was_visible and not self._was_visible[person]:
                self._returned.add(person)
            self._was_visible[person] = True
        self.score.truth_frames += len(people)
        for track_id in tracks.ids.tolist():
            self._track_frames[track_id] = self._track_frames.get(track_id, 0) + 1
        matches: dict[int, int] = {}
        if people and len(tracks):
            overlap = iou(np.stack([truth[p] for p in people]), tracks.boxes.astype(np.float64))
            # CLEAR MOT: a correspondence from the last frame that still overlaps is kept before the rest are
            # matched, so two people who cross are not counted as swapping because their boxes coincide.
            column = {int(track_id): c for c, track_id in enumerate(tracks.ids.tolist())}
            kept_rows, kept_cols = set(), set()
            for r, person in enumerate(people):
                c = column.get(self._last_id.get(person, -1), -1)
                if c >= 0 and c not in kept_cols and overlap[r, c] >= MATCH_MIN_IOU:
                    matches[person] = int(tracks.ids[c])
                    kept_rows.add(r)
                    kept_cols.add(c)
            rest_rows = [r for r in range(len(people)) if r not in kept_rows]
            rest_cols = [c for c in range(len(tracks)) if c not in kept_cols]
            if rest_rows and rest_cols:
                block = overlap[np.ix_(rest_rows, rest_cols)]
                rows, cols = linear_sum_assignment(-block)
                for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                    if block[r, c] >= MATCH_MIN_IOU:
                        matches[people[rest_rows[r]]] = int(tracks.ids[rest_cols[c]])
        for person, track_id in matches.items():
            self.score.matched_frames += 1
            self._track_matched[track_id] = self._track_matched.get(track_id, 0) + 1
            self.score.ids_per_person.setdefault(person, set()).add(track_id)
            previous = self._last_id.get(person)
            if previous is not None and previous != track_id:
                if person in self._returned:
                    self.score.new_ids_on_return += 1
                else:
                    self.score.id_switches += 1
            self._returned.discard(person)
            self._last_id[person] = track_id
        return matches

    def finish(self) -> Score:
        self.score.false_tracks = sum(
            1 for track_id, frames in self._track_frames.items() if self._track_matched.get(track_id, 0) < frames / 2
        )
        return self.score


def _walk(person: int, t0: float, t1: float, x0: float, x1: float, y: float, h: float, **kw: object) -> Walker:
    return Walker(person=person, path=((t0, x0, y, h), (t1, x1, y, h)), **kw)  # type: ignore[arg-type]


def standard_scenes() -> tuple[Scene, ...]:
    """The scenes the golden file keeps: walking by, stopping to watch, turning away, face only up close,
    leaving and coming back, and six people at once with crossings."""
    walk_by = Scene(
        name="walk_by",
        duration_s=12.0,
        walkers=(
            _walk(1, 0.0, 8.0, -100, 1380, 380, 420),
            _walk(2, 1.0, 9.0, 1380, -100, 400, 460),  # crosses person 1 around t=4.5
            _walk(3, 3.0, 12.0, -100, 1380, 330, 300, facing=((5.0, 7.0),)),  # further back
        ),
    )
    stop_and_watch = Scene(
        name="stop_and_watch",
        duration_s=14.0,
        walkers=(
            Walker(
                person=1,
                path=((0.0, -100, 380, 420), (3.0, 600, 390, 460), (9.0, 610, 390, 470), (13.0, 1380, 380, 420)),
                facing=((3.2, 8.8),),
            ),
            _walk(2, 2.0, 10.0, 1380, -100, 360, 380),  # walks past in front of the watcher
        ),
    )
    turn_away = Scene(
        name="turn_away",
        duration_s=12.0,
        walkers=(
            Walker(
                person=1,
                path=((0.0, 400, 380, 440), (12.0, 480, 380, 440)),
                facing=((0.0, 4.0), (7.0, 12.0)),
                back_turned=((4.0, 7.0),),
            ),
            Walker(
                person=2,
                path=((0.0, 800, 380, 430), (12.0, 760, 380, 430)),
                back_turned=((2.0, 5.0), (8.0, 10.0)),
                facing=((5.0, 8.0),),
            ),
        ),
    )
    close_face_only = Scene(
        name="close_face_only",
        duration_s=12.0,
        walkers=(
            Walker(
                person=1,
                path=((0.0, 300, 380, 500), (4.0, 600, 420, 700), (8.0, 620, 420, 700), (12.0, 900, 380, 500)),
                body_hidden=((3.0, 9.0),),  # too close: only the face is found
                facing=((3.0, 9.0),),
            ),
            _walk(2, 1.0, 11.0, 1380, -100, 350, 360),
        ),
    )
    leave_and_return = Scene(
        name="leave_and_return",
        duration_s=16.0,
        walkers=(
            Walker(person=1, path=((0.0, 300, 380, 420), (16.0, 500, 380, 420)), away=((5.0, 9.0),)),
            _walk(2, 0.0, 16.0, 1000, 900, 380, 420, away=((8.0, 8.8),)),  # a short occlusion: keeps its id
        ),
    )
    crowd: list[Walker] = [
        _walk(1, 0.0, 14.0, -100, 1380, 380, 420),
        _walk(2, 0.5, 13.0, 1380, -100, 390, 440),
        _walk(3, 1.0, 15.0, -100, 1380, 330, 300),
        Walker(
            person=4,
            path=((0.0, 200, 390, 450), (6.0, 640, 400, 470), (12.0, 640, 400, 470), (15.0, 1100, 390, 450)),
            facing=((6.0, 12.0),),
            back_turned=((9.0, 10.5),),
        ),
        Walker(person=5, path=((2.0, 1100, 380, 430), (15.0, 1000, 385, 440)), facing=((4.0, 11.0),)),
        _walk(6, 3.0, 15.0, 1380, -100, 340, 320, away=((8.0, 8.5),)),
    ]
    crowd_6 = Scene(name="crowd_6", duration_s=15.0, walkers=tuple(crowd), seed=6)
    # The same crowd seen by a worse detector at a lower rate: more misses, noisier boxes, more ghosts.
    crowd_6_noisy = Scene(
        name="crowd_6_noisy",
        duration_s=15.0,
        walkers=tuple(crowd),
        fps=6.0,
        jitter=0.05,
        miss_rate=0.2,
        ghost_rate=0.2,
        seed=7,
    )
    return (walk_by, stop_and_watch, turn_away, close_face_only, leave_and_return, crowd_6, crowd_6_noisy)
