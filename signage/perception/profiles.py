"""Attributes and re-identification once per track, not per frame.

Each tracked face gets its age band, gender and mood, and an anonymous re-identification key, the first time it is
seen facing the camera; both are refreshed only every `refresh_s`. At most `max_faces_per_frame` faces are profiled
in one frame, so six people arriving together cost a few frames of spare time instead of one long frame. The
embedding is used at once to find or enrol the person's key in the in-RAM `ReidMemory` and then dropped.

Reaction to content: when an item starts (`item_started(t)`), the mood of every face that faces the screen is
measured again `reaction_delay_s` after the start (a face takes about a second to react), at most
`reaction_faces_per_frame` faces per frame, until `reaction_window_s` after the start; only the mood model runs
for it (`AttributeEstimator.moods`: 0.7 ms CPU for one face against 1.8 ms for all three models, measured on a
portrait), and age, gender and the re-id key keep their schedule. So the audience stage sees the mood before the
start and a fresh one after it, and an exposure's mood_before/after can differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from signage.config import Config
from signage.perception.attributes import AttributeEstimator, FaceAttributes
from signage.perception.reid import Embedder, FaceEmbedder, ReidMemory
from signage.tracking.geometry import body_from_face, containment, head_regions, iou
from signage.types import Attributes, FaceDetections, Frame, Tracks


@dataclass
class _Profile:
    attributes: Attributes
    person_key: str
    returning: bool
    refreshed_t: float
    mood_t: float  # when the mood was last measured (a full profile or a reaction refresh)


class TrackProfiler:
    def __init__(
        self,
        *,
        attributes: AttributeEstimator,
        embedder: Embedder | None,
        memory: ReidMemory | None,
        refresh_s: float = 20.0,
        max_faces_per_frame: int = 1,
        min_iou: float = 0.3,
        reaction_delay_s: float = 1.0,
        reaction_window_s: float = 3.0,
        reaction_faces_per_frame: int = 2,
        facing_max_yaw_deg: float = 22.0,
        facing_max_pitch_deg: float = 20.0,
    ) -> None:
        if (embedder is None) != (memory is None):
            raise ValueError("TrackProfiler: give both an embedder and a memory (re-id on) or neither (off)")
        self._attributes = attributes
        self._embedder = embedder
        self._memory = memory
        self._refresh_s = refresh_s
        self._max_faces = max_faces_per_frame
        self._min_iou = min_iou
        self._profiles: dict[int, _Profile] = {}
        self._key_tracks: dict[str, int] = {}  # person key → the last track it was given to (RAM only)
        self._reaction_delay_s = reaction_delay_s
        self._reaction_window_s = reaction_window_s
        self._reaction_faces = reaction_faces_per_frame
        self._facing = (facing_max_yaw_deg, facing_max_pitch_deg)
        self._item_started: float | None = None  # the start of the newest item, while its reaction is measured
        self.reaction_refreshes = 0  # moods measured again after an item started (for tests and benchmarks)

    @classmethod
    def from_config(cls, config: Config) -> TrackProfiler:
        """Attributes always; the re-id embedder (and its model) only with `perception.reid_enabled`."""
        enabled = config.perception.reid_enabled
        audience = config.audience
        return cls(
            attributes=FaceAttributes.from_config(config),
            embedder=FaceEmbedder.from_config(config) if enabled else None,
            memory=ReidMemory.from_config(config) if enabled else None,
            reaction_delay_s=audience.reaction_mood_delay_s,
            reaction_window_s=audience.reaction_window_s,
            facing_max_yaw_deg=audience.facing_max_yaw_deg,
            facing_max_pitch_deg=audience.facing_max_pitch_deg,
        )

    def item_started(self, t: float) -> None:
        """An item started on screen at `t`: the moods of the faces watching it are measured again after
        `reaction_delay_s`."""
        self._item_started = t

    @property
    def reid_enabled(self) -> bool:
        return self._embedder is not None

    def annotate(self, frame: Frame, faces: FaceDetections, tracks: Tracks, t: float) -> Tracks:
        """`tracks` with the attributes, returning flags and person keys known for each track."""
        self._profiles = {k: v for k, v in self._profiles.items() if k in set(tracks.ids.tolist())}
        due = [
            (i, track_id)
            for i, track_id in enumerate(tracks.ids.tolist())
            if not np.isnan(tracks.head_pose[i, 0])
            and (track_id not in self._profiles or t - self._profiles[track_id].refreshed_t >= self._refresh_s)
        ]
        due.sort(key=lambda entry: entry[1] in self._profiles)  # never-profiled tracks first
        picked = self._faces_of(due, tracks, faces, self._max_faces)  # (track id, face index)
        taken = {track_id for track_id, _ in picked}
        reactions = self._faces_of(
            [(i, track_id) for i, track_id in self._reaction_due(tracks, t) if track_id not in taken],
            tracks,
            faces,
            self._reaction_faces,
        )
        if reactions:  # only the mood model: the reaction to the item that started; age and gender stay
            rows = sorted({face for _, face in reactions})
            moods = self._attributes.moods(frame, faces.filter(np.isin(np.arange(len(faces)), rows)))
            for track_id, face in reactions:
                (feeling, confidence), known = moods[rows.index(face)], self._profiles[track_id]
                known.attributes = replace(known.attributes, mood=feeling, mood_confidence=confidence)
                known.mood_t = t
                self.reaction_refreshes += 1
        if picked:
            rows = sorted({face for _, face in picked})
            estimated = self._attributes.estimate(frame, faces.filter(np.isin(np.arange(len(faces)), rows)))
            self._profile(frame, faces, picked, {face: estimated[rows.index(face)] for _, face in picked}, t)
        if not self._profiles:
            return tracks
        attributes = list(tracks.attributes)
        keys = list(tracks.person_keys)
        returning_column = tracks.returning.copy()
        for i, track_id in enumerate(tracks.ids.tolist()):
            profile = self._profiles.get(track_id)
            if profile is not None:
                attributes[i] = profile.attributes
                keys[i] = profile.person_key
                returning_column[i] = profile.returning
        return replace(tracks, attributes=tuple(attributes), person_keys=tuple(keys), returning=returning_column)

    def _profile(
        self,
        frame: Frame,
        faces: FaceDetections,
        picked: list[tuple[int, int]],
        attributes: dict[int, Attributes],
        t: float,
    ) -> None:
        """New profiles for the picked (track id, face index) pairs: attributes, and the re-id key when re-id is on."""
        rows = sorted({face for _, face in picked})
        # Re-id off (no embedder): no embedding is computed, keys stay "" and nobody is returning.
        embeddings = (
            self._embedder.embed(frame, faces.filter(np.isin(np.arange(len(faces)), rows)))
            if self._embedder is not None
            else None
        )
        for track_id, face in picked:
            if embeddings is None or self._memory is None:
                self._profiles[track_id] = _Profile(
                    attributes=attributes[face], person_key="", returning=False, refreshed_t=t, mood_t=t
                )
                continue
            key = self._memory.match_or_enrol(embeddings[rows.index(face)], t)
            # Returning: the key was already given to another track (an earlier visit).
            returning = self._key_tracks.get(key, track_id) != track_id
            self._key_tracks.pop(key, None)
            self._key_tracks[key] = track_id
            while len(self._key_tracks) > 10_000:
                del self._key_tracks[next(iter(self._key_tracks))]
            previous = self._profiles.get(track_id)
            self._profiles[track_id] = _Profile(
                attributes=attributes[face],
                person_key=key,
                returning=returning or (previous.returning if previous else False),
                refreshed_t=t,
                mood_t=t,
            )

    def _faces_of(
        self, due: list[tuple[int, int]], tracks: Tracks, faces: FaceDetections, limit: int
    ) -> list[tuple[int, int]]:
        """(track id, face index) for up to `limit` of the `due` (row, track id) pairs whose face is found.

        A track's box is a body (detected, or implied by its face as the tracker does) or, from other sources, the
        face itself: a face belongs to the track whose box matches it, its implied body, or whose head region
        holds it."""
        if not due or not len(faces):
            return []
        face_boxes = faces.boxes.astype(np.float64)
        implied_bodies = body_from_face(face_boxes)
        found: list[tuple[int, int]] = []
        for i, track_id in due:
            if len(found) >= limit:
                break
            box = tracks.boxes[i].astype(np.float64)
            overlap = np.maximum(iou(box[None], face_boxes)[0], iou(box[None], implied_bodies)[0])
            overlap = np.maximum(overlap, containment(face_boxes, head_regions(box[None]))[:, 0])
            best = int(np.argmax(overlap))
            if overlap[best] >= self._min_iou:
                found.append((track_id, best))
        return found

    def _reaction_due(self, tracks: Tracks, t: float) -> list[tuple[int, int]]:
        """(row, track id) of the profiled faces facing the screen whose mood is due again after an item start."""
        start = self._item_started
        if start is None:
            return []
        if t > start + self._reaction_window_s:
            self._item_started = None  # too late to count as the reaction to that item
            return []
        due_t = start + self._reaction_delay_s
        if t < due_t:
            return []
        facing = tracks.facing(*self._facing)
        return [
            (i, track_id)
            for i, track_id in enumerate(tracks.ids.tolist())
            if facing[i] and track_id in self._profiles and self._profiles[track_id].mood_t < due_t
        ]
