"""Attributes and re-identification once per track, not per frame.

Each tracked face gets its age band, gender and mood, and an anonymous re-identification key, the first time it is
seen facing the camera; both are refreshed only every `refresh_s`. At most `max_faces_per_frame` faces are profiled
in one frame, so six people arriving together cost a few frames of spare time instead of one long frame. The
embedding is used at once to find or enrol the person's key in the in-RAM `ReidMemory` and then dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from signage.config import Config
from signage.perception.attributes import AttributeEstimator, FaceAttributes
from signage.perception.reid import Embedder, FaceEmbedder, ReidMemory
from signage.tracking.geometry import body_from_face, containment, head_regions
from signage.types import Attributes, FaceDetections, Frame, Tracks


@dataclass
class _Profile:
    attributes: Attributes
    person_key: str
    returning: bool
    refreshed_t: float


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) against many (N, 4)."""
    x1 = np.maximum(a[0], b[:, 0])
    y1 = np.maximum(a[1], b[:, 1])
    x2 = np.minimum(a[2], b[:, 2])
    y2 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    result: np.ndarray = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    return result


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

    @classmethod
    def from_config(cls, config: Config) -> TrackProfiler:
        """Attributes always; the re-id embedder (and its model) only with `perception.reid_enabled`."""
        enabled = config.perception.reid_enabled
        return cls(
            attributes=FaceAttributes.from_config(config),
            embedder=FaceEmbedder.from_config(config) if enabled else None,
            memory=ReidMemory.from_config(config) if enabled else None,
        )

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
        picked: list[tuple[int, int]] = []  # (track id, face index)
        # A track's box is a body (detected, or implied by its face as the tracker does) or, from other sources,
        # the face itself: a face belongs to the track whose box matches it, its implied body, or whose head
        # region holds it.
        face_boxes = faces.boxes.astype(np.float64)
        implied_bodies = body_from_face(face_boxes) if due and len(faces) else None
        for i, track_id in due:
            if len(picked) >= self._max_faces or implied_bodies is None:
                break
            box = tracks.boxes[i].astype(np.float64)
            overlap = np.maximum(_iou(box, face_boxes), _iou(box, implied_bodies))
            overlap = np.maximum(overlap, containment(face_boxes, head_regions(box[None]))[:, 0])
            best = int(np.argmax(overlap))
            if overlap[best] >= self._min_iou:
                picked.append((track_id, best))
        if picked:
            chosen = faces.filter(np.isin(np.arange(len(faces)), [face for _, face in picked]))
            order = sorted(face for _, face in picked)
            estimated = self._attributes.estimate(frame, chosen)
            # Re-id off (no embedder): no embedding is computed, keys stay "" and nobody is returning.
            embeddings = self._embedder.embed(frame, chosen) if self._embedder is not None else None
            for track_id, face in picked:
                row = order.index(face)
                if embeddings is None or self._memory is None:
                    self._profiles[track_id] = _Profile(
                        attributes=estimated[row], person_key="", returning=False, refreshed_t=t
                    )
                    continue
                key = self._memory.match_or_enrol(embeddings[row], t)
                # Returning: the key was already given to another track (an earlier visit).
                returning = self._key_tracks.get(key, track_id) != track_id
                self._key_tracks.pop(key, None)
                self._key_tracks[key] = track_id
                while len(self._key_tracks) > 10_000:
                    del self._key_tracks[next(iter(self._key_tracks))]
                previous = self._profiles.get(track_id)
                self._profiles[track_id] = _Profile(
                    attributes=estimated[row],
                    person_key=key,
                    returning=returning or (previous.returning if previous else False),
                    refreshed_t=t,
                )
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
