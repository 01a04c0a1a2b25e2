"""Anonymous person tracking with hysteresis: detections in, `Tracks` out, one call per frame.

Each frame:
1. faces are paired with bodies (a face mostly inside the head region of a body box, Hungarian on the overlap);
   a face with no body stands for a person whose body was not seen, with the body its face implies;
2. people are associated with tracks in two rounds, confirmed tracks first (so a fresh ghost cannot steal a
   sighting from someone tracked for a while), by the best overlap (IoU) of body or face with the track's
   constant-velocity prediction; a sighting without overlap but close to the prediction (`max_jump` box widths)
   still continues the track. Hungarian assignment (scipy's linear_sum_assignment) on 1 - similarity.
3. hysteresis like norfair's: a track gets an id only after `init_hits` consecutive sightings (a tentative track
   is dropped at its first miss), and a confirmed track survives up to `max_unseen_s` seconds without a sighting,
   coasting on its prediction, but never longer than it has been seen (norfair's hit counter, in time: a fleeting
   track does not linger to be taken over by the next person who comes near); a person who turns their back keeps
   their id because the body continues the track. Losing a track is a matter of time, not of frames, so it
   behaves the same at 5 and at 30 frames per second.

Ids are anonymous counters that mean nothing outside this tracker instance. `update` returns the confirmed people
seen in this frame, never the coasting ones (their head pose would be a guess); the audience stage bridges short
gaps itself. Each track also says how long ago it was first sighted (`Tracks.seen_for_s`, from the first of the
`init_hits` sightings), so that dwell starts at the first detection, not at the confirmation. Directions are in
image coordinates as the camera sees them: left_to_right means the box moves towards larger x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from signage.config import TrackingConfig
from signage.tracking.detections import PersonDetections
from signage.tracking.geometry import body_from_face, centres, containment, head_regions, iou
from signage.types import UNKNOWN_ATTRIBUTES, Direction, Tracks

INFEASIBLE = 1e6
MIN_DT_S = 1e-3
APPROACH_SHARE = 0.5  # growth in height (per second, relative) counts this much against sideways speed


@dataclass(frozen=True)
class _Person:
    """One person seen in this frame: a body (detected or implied by the face) and maybe a face."""

    body: np.ndarray
    body_seen: bool
    face: np.ndarray | None
    head_pose: np.ndarray
    gaze: np.ndarray


class _Track:
    """A tracker's private, mutable state for one person; only `Tracks` values leave the tracker."""

    def __init__(self, person: _Person, t: float) -> None:
        self.track_id = 0  # 0 until confirmed
        self.hits = 1
        self.misses = 0
        self.first_t = t  # the first sighting, before the track was confirmed
        self.seen_t = t  # the last sighting
        self.body = person.body.astype(np.float64)
        self.face = None if person.face is None else person.face.astype(np.float64)
        self.velocity = np.zeros(4)
        self.last_t = t
        self.head_pose = person.head_pose
        self.gaze = person.gaze
        self.direction = Direction.UNKNOWN

    def predicted_body(self, t: float) -> np.ndarray:
        result: np.ndarray = self.body + self.velocity * (t - self.last_t)
        return result

    def predicted_face(self, t: float) -> np.ndarray | None:
        if self.face is None:
            return None
        shift = (self.velocity[0] + self.velocity[2]) / 2, (self.velocity[1] + self.velocity[3]) / 2
        dt = t - self.last_t
        result: np.ndarray = self.face + np.array([shift[0], shift[1], shift[0], shift[1]]) * dt
        return result

    def absorb(self, person: _Person, t: float, smoothing: float) -> None:
        dt = max(t - self.last_t, MIN_DT_S)
        body = person.body.astype(np.float64)
        if not person.body_seen and self.face is not None and person.face is not None:
            # No body this frame: move the body we know with the face rather than guessing it from the face.
            body = self.body + _centre_shift(self.face, person.face)
        self.velocity = smoothing * self.velocity + (1 - smoothing) * (body - self.body) / dt
        self.body = body
        if person.face is not None:
            self.face = person.face.astype(np.float64)
        elif self.face is not None:  # back turned: the face moves with the body until it is seen again
            self.face = self.face + _centre_shift(self.body, body)
        self.head_pose = person.head_pose
        self.gaze = person.gaze
        self.last_t = t
        self.seen_t = t
        self.hits += 1
        self.misses = 0

    def coast(self, t: float) -> None:
        self.body = self.predicted_body(t)
        face = self.predicted_face(t)
        self.face = face
        self.last_t = t
        self.misses += 1
        self.hits = 0


class Tracker:
    """`update(detections, t) -> Tracks` once per frame, also with no detections (that is how tracks age)."""

    def __init__(self, config: TrackingConfig) -> None:
        self._config = config
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_t: float | None = None

    @property
    def active(self) -> int:
        """Confirmed tracks alive now, seen this frame or coasting."""
        return sum(1 for track in self._tracks if track.track_id)

    def update(self, detections: PersonDetections, t: float) -> Tracks:
        if self._last_t is not None and t < self._last_t:
            raise ValueError(f"Tracker.update: time went backwards ({t} after {self._last_t})")
        self._last_t = t
        people = self._people(detections)
        confirmed = [track for track in self._tracks if track.track_id]
        tentative = [track for track in self._tracks if not track.track_id]
        matched: dict[int, int] = {}  # index into self._tracks -> person
        free = list(range(len(people)))
        position = {id(track): index for index, track in enumerate(self._tracks)}
        for group in (confirmed, tentative):
            pairs = self._associate(group, [people[i] for i in free], t)
            taken = set()
            for track_index, person_index in pairs:
                matched[position[id(group[track_index])]] = free[person_index]
                taken.add(free[person_index])
            free = [i for i in free if i not in taken]

        survivors: list[_Track] = []
        smoothing = self._config.velocity_smoothing
        for index, track in enumerate(self._tracks):
            if index in matched:
                track.absorb(people[matched[index]], t, smoothing)
                if not track.track_id and track.hits >= self._config.init_hits:
                    track.track_id = self._next_id
                    self._next_id += 1
                survivors.append(track)
            else:
                track.coast(t)
                patience = min(self._config.max_unseen_s, track.seen_t - track.first_t)
                if track.track_id and t - track.seen_t <= patience:
                    survivors.append(track)
        for i in free:
            track = _Track(people[i], t)
            if self._config.init_hits <= 1:
                track.track_id = self._next_id
                self._next_id += 1
            survivors.append(track)
        self._tracks = survivors
        return self._output([track for track in survivors if track.track_id and track.misses == 0], t)

    # -- pairing and association ---------------------------------------------------------------------------------
    def _people(self, detections: PersonDetections) -> list[_Person]:
        bodies = detections.body_boxes.astype(np.float64)
        faces = detections.face_boxes.astype(np.float64)
        face_of_body: dict[int, int] = {}
        if len(bodies) and len(faces):
            overlap = containment(faces, head_regions(bodies))
            # Among bodies that all hold the face (people overlapping), the one it is centred on owns it.
            offset = np.abs(centres(faces)[:, None, 0] - centres(bodies)[None, :, 0])
            off_centre = offset / np.maximum(bodies[None, :, 2] - bodies[None, :, 0], 1.0)
            rows, cols = linear_sum_assignment(off_centre - overlap)
            for f, b in zip(rows.tolist(), cols.tolist(), strict=True):
                if overlap[f, b] >= self._config.face_in_body_min:
                    face_of_body[b] = f
        nan_pose = np.full(3, np.nan, np.float32)
        nan_gaze = np.full(2, np.nan, np.float32)
        gaze = detections.face_gaze
        people = [
            _Person(
                body=bodies[b],
                body_seen=True,
                face=faces[face_of_body[b]] if b in face_of_body else None,
                head_pose=detections.head_pose[face_of_body[b]] if b in face_of_body else nan_pose,
                gaze=gaze[face_of_body[b]] if b in face_of_body else nan_gaze,
            )
            for b in range(len(bodies))
        ]
        paired = set(face_of_body.values())
        lone = [f for f in range(len(faces)) if f not in paired]
        if lone:
            implied = body_from_face(faces[lone])
            people += [
                _Person(
                    body=implied[k], body_seen=False, face=faces[f], head_pose=detections.head_pose[f], gaze=gaze[f]
                )
                for k, f in enumerate(lone)
            ]
        return people

    def _associate(self, tracks: list[_Track], people: list[_Person], t: float) -> list[tuple[int, int]]:
        if not tracks or not people:
            return []
        predicted = np.stack([track.predicted_body(t) for track in tracks])
        bodies = np.stack([person.body for person in people])
        similarity = iou(predicted, bodies)
        # Where both a track and a person have a face, the faces' overlap counts too (the sharper cue up close).
        track_faces = [track.predicted_face(t) for track in tracks]
        with_face = [i for i, face in enumerate(track_faces) if face is not None]
        person_faces = [j for j, person in enumerate(people) if person.face is not None]
        if with_face and person_faces:
            face_iou = iou(
                np.stack([track_faces[i] for i in with_face]),  # type: ignore[misc]
                np.stack([people[j].face for j in person_faces]),  # type: ignore[misc]
            )
            block = similarity[np.ix_(with_face, person_faces)]
            similarity[np.ix_(with_face, person_faces)] = np.maximum(block, face_iou)
        cost = 1.0 - similarity
        close = similarity >= self._config.min_iou
        if self._config.max_jump > 0:
            width = np.maximum(predicted[:, 2] - predicted[:, 0], 1.0)
            distance = np.linalg.norm(centres(predicted)[:, None, :] - centres(bodies)[None, :, :], axis=2)
            jump = distance / width[:, None]
            near = ~close & (jump <= self._config.max_jump)
            # Weaker than any overlap, so an overlapping sighting is always preferred.
            cost = np.where(near, 2.0 + jump, cost)
            close = close | near
        cost = np.where(close, cost, INFEASIBLE)
        rows, cols = linear_sum_assignment(cost)
        return [(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if close[r, c]]

    # -- values out ---------------------------------------------------------------------------------------------
    def _output(self, tracks: list[_Track], t: float) -> Tracks:
        if not tracks:
            return Tracks.empty()
        n = len(tracks)
        return Tracks(
            ids=np.array([track.track_id for track in tracks], np.int64),
            boxes=np.stack([track.body for track in tracks]).astype(np.float32),
            head_pose=np.stack([track.head_pose for track in tracks]).astype(np.float32),
            gaze=np.stack([track.gaze for track in tracks]).astype(np.float32),
            returning=np.zeros(n, np.bool_),
            group_ids=np.full(n, -1, np.int64),
            attributes=(UNKNOWN_ATTRIBUTES,) * n,
            directions=tuple(self._direction(track) for track in tracks),
            seen_for_s=np.array([t - track.first_t for track in tracks], np.float32),
        )

    def _direction(self, track: _Track) -> Direction:
        width = max(track.body[2] - track.body[0], 1.0)
        height = max(track.body[3] - track.body[1], 1.0)
        sideways = (track.velocity[0] + track.velocity[2]) / 2 / width  # body widths per second
        growth = (track.velocity[3] - track.velocity[1]) / height  # share of its height per second
        minimum = self._config.direction_min_speed
        if not (math.isfinite(sideways) and math.isfinite(growth)):
            return Direction.UNKNOWN
        if abs(growth) * 1 / APPROACH_SHARE >= abs(sideways) and abs(growth) / APPROACH_SHARE >= minimum:
            return Direction.APPROACHING if growth > 0 else Direction.LEAVING
        if abs(sideways) >= minimum:
            return Direction.LEFT_TO_RIGHT if sideways > 0 else Direction.RIGHT_TO_LEFT
        return Direction.STANDING


def _centre_shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The move of a box's centre, as a shift to add to all four coordinates of another box."""
    d = after - before
    dx, dy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
    return np.array([dx, dy, dx, dy])
