"""Frozen values that flow between the stages of the loop.

Every stage takes these and returns new ones; nothing mutates its inputs. Per-object columns are read-only numpy
arrays (like supervision's Detections, but frozen); shapes are checked on construction so a wrong shape fails where
it is made, with a message that says what was expected.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class AgeBand(enum.StrEnum):
    CHILD = "child"  # under 13
    TEEN = "teen"  # 13-17
    YOUNG_ADULT = "young_adult"  # 18-29
    ADULT = "adult"  # 30-59
    SENIOR = "senior"  # 60+
    UNKNOWN = "unknown"


MINOR_AGE_BANDS = frozenset({AgeBand.CHILD, AgeBand.TEEN})


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    UNKNOWN = "unknown"


class Mood(enum.StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    UNKNOWN = "unknown"


class Direction(enum.StrEnum):
    APPROACHING = "approaching"
    LEAVING = "leaving"
    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"
    STANDING = "standing"
    UNKNOWN = "unknown"


class ViewerStatus(enum.StrEnum):
    """Audience states, from weakest to strongest engagement."""

    PRESENT = "present"  # tracked, not yet long enough to count as an opportunity to see
    PASSER_BY = "passer_by"  # an opportunity to see (OTS)
    WATCHER = "watcher"  # faced the screen for at least the watcher time, continuously
    ATTENTIVE = "attentive"  # facing the screen now, for at least the hold time
    READING = "reading"  # reading-like eye movement on the current item


def _frozen_array(value: Any, dtype: type, name: str, shape_tail: tuple[int, ...]) -> npt.NDArray[Any]:
    array: npt.NDArray[Any] = np.array(value, dtype=dtype, copy=True)
    if array.size == 0 and array.ndim != 1 + len(shape_tail):
        array = array.reshape((0, *shape_tail))
    if array.ndim != 1 + len(shape_tail) or array.shape[1:] != shape_tail:
        expected = "(N" + "".join(f", {d}" for d in shape_tail) + ")"
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")
    array.setflags(write=False)
    return array


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class Frame:
    """One camera or synthetic frame; it lives in memory only and is never written or sent."""

    image: npt.NDArray[np.uint8]
    t_mono: float
    index: int

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise ValueError(f"Frame.image: expected a uint8 numpy array, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"Frame.image: expected shape (H, W, 3) with H, W > 0, got {image.shape}")
        if self.index < 0:
            raise ValueError(f"Frame.index must be >= 0, got {self.index}")


@dataclass(frozen=True)
class FaceDetections:
    """Faces found in one frame: boxes (N, 4) as x1, y1, x2, y2 pixels; scores (N,); landmarks (N, 5, 2)."""

    boxes: FloatArray
    scores: FloatArray
    landmarks: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", _frozen_array(self.boxes, np.float32, "boxes", (4,)))
        object.__setattr__(self, "scores", _frozen_array(self.scores, np.float32, "scores", ()))
        object.__setattr__(self, "landmarks", _frozen_array(self.landmarks, np.float32, "landmarks", (5, 2)))
        n = len(self.boxes)
        if len(self.scores) != n or len(self.landmarks) != n:
            raise ValueError(
                f"FaceDetections: column lengths differ: boxes {n}, scores {len(self.scores)}, "
                f"landmarks {len(self.landmarks)}"
            )

    @classmethod
    def empty(cls) -> FaceDetections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    def filter(self, mask: BoolArray) -> FaceDetections:
        return FaceDetections(self.boxes[mask], self.scores[mask], self.landmarks[mask])


@dataclass(frozen=True)
class Attributes:
    """Coarse, anonymous attributes of one person, each with the confidence it came with."""

    age_band: AgeBand = AgeBand.UNKNOWN
    age_confidence: float = 0.0
    gender: Gender = Gender.UNKNOWN
    gender_confidence: float = 0.0
    mood: Mood = Mood.UNKNOWN
    mood_confidence: float = 0.0

    def __post_init__(self) -> None:
        _check_unit("age_confidence", self.age_confidence)
        _check_unit("gender_confidence", self.gender_confidence)
        _check_unit("mood_confidence", self.mood_confidence)


UNKNOWN_ATTRIBUTES = Attributes()


@dataclass(frozen=True)
class Tracks:
    """Tracked people in one tick: what the audience stage consumes, from the camera or the virtual store.

    ids (N,) are anonymous per-visit track ids; boxes (N, 4) body boxes in pixels; head_pose (N, 3) yaw, pitch,
    roll in degrees with NaN where no face was seen; group_ids (N,) link people who came together (-1: alone).
    """

    ids: IntArray
    boxes: FloatArray
    head_pose: FloatArray
    returning: BoolArray
    group_ids: IntArray
    attributes: tuple[Attributes, ...]
    directions: tuple[Direction, ...]
    # Anonymous re-identification keys, one per track ("" when unknown): equal keys mean the same person on
    # different visits. They live in RAM only (with the re-id time-to-live) and are never logged.
    person_keys: tuple[str, ...] = ()
    # Gaze (N, 2): where each person looks, as horizontal and vertical angles in degrees from the screen's centre;
    # NaN where no eyes were seen. The reading detector follows its horizontal sweeps over time.
    gaze: FloatArray | None = None
    # Seen for (N,): seconds from each track's first sighting (before it was confirmed and got its id) to this
    # tick, so that dwell starts at the first detection; 0 where the source does not know.
    seen_for_s: FloatArray | None = None

    def __post_init__(self) -> None:
        if not self.person_keys:
            object.__setattr__(self, "person_keys", ("",) * len(self.ids))
        if self.gaze is None:
            object.__setattr__(self, "gaze", np.full((len(self.ids), 2), np.nan, np.float32))
        object.__setattr__(self, "gaze", _frozen_array(self.gaze, np.float32, "gaze", (2,)))
        if self.seen_for_s is None:
            object.__setattr__(self, "seen_for_s", np.zeros(len(self.ids), np.float32))
        object.__setattr__(self, "seen_for_s", _frozen_array(self.seen_for_s, np.float32, "seen_for_s", ()))
        object.__setattr__(self, "ids", _frozen_array(self.ids, np.int64, "ids", ()))
        object.__setattr__(self, "boxes", _frozen_array(self.boxes, np.float32, "boxes", (4,)))
        object.__setattr__(self, "head_pose", _frozen_array(self.head_pose, np.float32, "head_pose", (3,)))
        object.__setattr__(self, "returning", _frozen_array(self.returning, np.bool_, "returning", ()))
        object.__setattr__(self, "group_ids", _frozen_array(self.group_ids, np.int64, "group_ids", ()))
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "directions", tuple(self.directions))
        n = len(self.ids)
        lengths = {
            "boxes": len(self.boxes),
            "head_pose": len(self.head_pose),
            "returning": len(self.returning),
            "group_ids": len(self.group_ids),
            "attributes": len(self.attributes),
            "directions": len(self.directions),
            "person_keys": len(self.person_keys),
            "gaze": len(self.gaze) if self.gaze is not None else n,
            "seen_for_s": len(self.seen_for_s) if self.seen_for_s is not None else n,
        }
        wrong = {k: v for k, v in lengths.items() if v != n}
        if wrong:
            raise ValueError(f"Tracks: expected {n} rows in every column (from ids), got {wrong}")
        if not np.all(self.seen_for >= 0):
            raise ValueError("Tracks: seen_for_s must be >= 0 (seconds since the first sighting)")
        if len(set(self.ids.tolist())) != n:
            raise ValueError("Tracks: ids must be unique within a tick")

    @classmethod
    def empty(cls) -> Tracks:
        return cls(
            ids=np.zeros((0,), np.int64),
            boxes=np.zeros((0, 4), np.float32),
            head_pose=np.zeros((0, 3), np.float32),
            returning=np.zeros((0,), np.bool_),
            group_ids=np.zeros((0,), np.int64),
            attributes=(),
            directions=(),
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def seen_for(self) -> FloatArray:
        """`seen_for_s`, never None (set in `__post_init__`)."""
        assert self.seen_for_s is not None
        return self.seen_for_s

    def facing(self, max_yaw_deg: float, max_pitch_deg: float) -> BoolArray:
        """True where a face was seen turned towards the screen within both angles."""
        if not len(self.ids):
            return np.zeros(0, dtype=bool)  # an empty aisle, most ticks of a simulated day: skip numpy's setup
        yaw = np.abs(self.head_pose[:, 0])
        pitch = np.abs(self.head_pose[:, 1])
        with np.errstate(invalid="ignore"):
            result: BoolArray = (yaw <= max_yaw_deg) & (pitch <= max_pitch_deg)
        return result


@dataclass(frozen=True)
class Observation:
    """What the audience stage receives each tick. camera_ok is False while the camera is out (degraded mode)."""

    t_mono: float
    t_utc: datetime
    tracks: Tracks
    camera_ok: bool = True

    def __post_init__(self) -> None:
        if self.t_utc.tzinfo is None:
            raise ValueError("Observation.t_utc must be timezone-aware")


@dataclass(frozen=True)
class Viewer:
    """One person in front of the screen, as the audience stage sees them now."""

    viewer_id: str
    track_id: int
    status: ViewerStatus
    first_seen_mono: float
    last_seen_mono: float
    dwell_s: float
    attention_s: float
    facing: bool
    facing_streak_s: float
    attributes: Attributes
    returning: bool
    direction: Direction
    group_size: int
    is_passer_by: bool
    is_watcher: bool
    person_key: str = ""  # re-identification key across visits (RAM only, never logged); "" when unknown

    def __post_init__(self) -> None:
        if self.attention_s > self.dwell_s + 1e-6:
            raise ValueError(f"Viewer: attention_s ({self.attention_s}) exceeds dwell_s ({self.dwell_s})")
        if self.dwell_s < 0 or self.attention_s < 0 or self.facing_streak_s < 0:
            raise ValueError("Viewer: times must be >= 0")
        if self.group_size < 1:
            raise ValueError(f"Viewer.group_size must be >= 1, got {self.group_size}")


@dataclass(frozen=True)
class AudienceSnapshot:
    """Everyone in front of the screen at one moment."""

    t_mono: float
    t_utc: datetime
    viewers: tuple[Viewer, ...]
    camera_ok: bool = True

    @property
    def watching(self) -> tuple[Viewer, ...]:
        return tuple(v for v in self.viewers if v.facing)

    @property
    def minor_possible(self) -> bool:
        """True if anyone present may be a minor or has an uncertain age: restricted content must not play."""
        return any(
            v.attributes.age_band in MINOR_AGE_BANDS or v.attributes.age_band is AgeBand.UNKNOWN for v in self.viewers
        )


class ContentKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


@dataclass(frozen=True)
class ContentItem:
    """One item of the content pool, as the decision engine and the player see it."""

    item_id: str
    path: str
    kind: ContentKind
    duration_s: float
    advertiser: str
    category: str
    tags: tuple[str, ...] = ()
    motion: bool = False
    restricted: bool = False
    title: str = ""
    detail_id: str = ""  # the item shown when a viewer reads this one ("" when it has no detail page)
    loop: bool | None = None  # videos: loop until the item ends (None: the player's default)

    def __post_init__(self) -> None:
        if not self.item_id:
            raise ValueError("ContentItem.item_id must not be empty")
        if self.detail_id == self.item_id:
            raise ValueError(f"ContentItem {self.item_id}: an item cannot be its own detail page")
        if not self.duration_s > 0:
            raise ValueError(f"ContentItem {self.item_id}: duration_s must be > 0, got {self.duration_s}")
        object.__setattr__(self, "tags", tuple(self.tags))


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Context:
    """What the decision engine sees of the moment: numbers, never pixels or models."""

    t_utc: datetime
    local_hour: int
    weekday: int
    n_present: int
    n_watching: int
    minor_possible: bool
    returning_present: bool
    camera_ok: bool
    features: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.local_hour <= 23:
            raise ValueError(f"Context.local_hour must be 0-23, got {self.local_hour}")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"Context.weekday must be 0-6, got {self.weekday}")
        if self.n_present < 0 or self.n_watching < 0 or self.n_watching > self.n_present:
            raise ValueError(f"Context: need 0 <= n_watching <= n_present, got {self.n_watching}, {self.n_present}")
        for key, value in self.features.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"Context.features[{key!r}] must be a finite number, got {value!r}")
        object.__setattr__(self, "features", _frozen_mapping(self.features))

    def to_json(self) -> dict[str, Any]:
        return {
            "local_hour": self.local_hour,
            "weekday": self.weekday,
            "n_present": self.n_present,
            "n_watching": self.n_watching,
            "minor_possible": self.minor_possible,
            "returning_present": self.returning_present,
            "camera_ok": self.camera_ok,
            "features": dict(self.features),
        }


@dataclass(frozen=True)
class Decision:
    """A policy's choice: the item, the probability with which it was chosen, and why."""

    item_id: str
    propensity: float
    reason: str

    def __post_init__(self) -> None:
        if not 0.0 < self.propensity <= 1.0 or math.isnan(self.propensity):
            raise ValueError(f"Decision.propensity must be in (0, 1], got {self.propensity}")
        if not self.item_id:
            raise ValueError("Decision.item_id must not be empty")
