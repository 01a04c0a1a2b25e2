"""Records: the frozen rows the engine logs, each with its table and a lossless round-trip to a SQLite row.

Rows are keyed by a globally unique, time-ordered id (signage.ids), so a row written twice (an update that closes
an open row, or a resend to the central database) replaces itself instead of duplicating. Times are ISO 8601 UTC
text plus the monotonic clock reading; lists and mappings are JSON text.
"""

from __future__ import annotations

import enum
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Self

from signage.clock import iso_utc, parse_iso_utc
from signage.types import AgeBand, Direction, Gender, Mood

Row = dict[str, Any]


class Status(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    RECOVERED = "recovered"  # left open by a crash and closed on the next start


class Phase(enum.StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


class EventKind(enum.StrEnum):
    SESSION = "session"
    VIEWER = "viewer"
    EXPOSURE = "exposure"
    PLAY = "play"
    CAMERA = "camera"
    STORE = "store"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Mapping):
        return _dumps(dict(value))
    if isinstance(value, tuple):
        return _dumps(list(value))
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    kind = next(k for k in kinds if k is not type(None))
    origin = typing.get_origin(kind) or kind
    if origin is datetime:
        return parse_iso_utc(value)
    if origin is bool:
        return bool(value)
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        return origin(value)
    if origin is Mapping:
        return json.loads(value)
    if origin is tuple:
        return tuple(json.loads(value))
    return value


class _Row:
    """The row codec every record shares: the first field is the `id` column, the rest keep their names.

    Times become ISO text, enums their value, booleans 0/1, mappings and tuples JSON; `from_row` reads the field
    types back from the annotations, so a new record type needs no codec of its own."""

    TABLE: ClassVar[str]

    def to_row(self) -> Row:
        names = [f.name for f in fields(self)]  # type: ignore[arg-type]
        return {("id" if i == 0 else name): _encode(getattr(self, name)) for i, name in enumerate(names)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        hints = typing.get_type_hints(cls)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: _decode(hints[name], row["id" if i == 0 else name]) for i, name in enumerate(names)})


def _check_aware(record: object) -> None:
    for f in fields(record):  # type: ignore[arg-type]
        value = getattr(record, f.name)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{type(record).__name__}.{f.name} must be timezone-aware")


def _check_nonneg(record: object, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValueError(f"{type(record).__name__}.{name} must be a finite number >= 0, got {value}")


@dataclass(frozen=True)
class SessionRecord(_Row):
    """One run of the engine on one screen."""

    TABLE: ClassVar[str] = "sessions"

    session_id: str
    screen_id: str
    started_utc: datetime
    started_mono: float
    mode: str  # "demo", "run", "simulate"
    software_version: str
    config_digest: str
    last_seen_utc: datetime  # the heartbeat: a crashed session's open rows are closed at this time
    last_seen_mono: float
    ended_utc: datetime | None = None
    status: Status = Status.OPEN

    def __post_init__(self) -> None:
        _check_aware(self)
        if self.last_seen_mono < self.started_mono:
            raise ValueError("SessionRecord: last_seen_mono is before started_mono")


@dataclass(frozen=True)
class DecisionRecord(_Row):
    """A logged decision: context, eligible set, choice, propensity, policy and reason (for off-policy evaluation)."""

    TABLE: ClassVar[str] = "decisions"

    decision_id: str
    session_id: str
    t_utc: datetime
    t_mono: float
    context: Mapping[str, Any]
    eligible: tuple[str, ...]
    item_id: str
    propensity: float
    policy: str
    policy_version: str
    reason: str
    arm: str  # "learner" or "control"
    trigger: str  # why a decision was needed: "item_end", "interactive", "preempt"
    # The learner arm's eligible set, whichever arm decided: the set a policy put in the learner's place would have
    # chosen from (caps and shares are counted per arm, so the control arm's set can differ). Off-policy evaluation
    # asks the target about this set. None in rows logged before it was recorded.
    learner_eligible: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check_aware(self)
        if not 0.0 < self.propensity <= 1.0:
            raise ValueError(f"DecisionRecord.propensity must be in (0, 1], got {self.propensity}")
        if self.item_id not in self.eligible:
            raise ValueError(f"DecisionRecord: chosen item {self.item_id!r} is not in the eligible set")
        _dumps(dict(self.context))  # fails early on a context that cannot be logged
        object.__setattr__(self, "context", types.MappingProxyType(dict(self.context)))
        object.__setattr__(self, "eligible", tuple(self.eligible))
        if self.learner_eligible is not None:
            object.__setattr__(self, "learner_eligible", tuple(self.learner_eligible))


@dataclass(frozen=True)
class PlayRecord(_Row):
    """What was really on screen: opened when the first frame was presented, closed at the last one."""

    TABLE: ClassVar[str] = "plays"

    play_id: str
    session_id: str
    decision_id: str
    item_id: str
    started_utc: datetime
    started_mono: float
    ended_utc: datetime | None = None
    ended_mono: float | None = None
    measured: bool = True  # False while the camera was out: no attention could be measured
    status: Status = Status.OPEN
    started_frame: int | None = None  # the player's first frame showing the item
    ended_frame: int | None = None  # its last frame showing the item (ended_mono: when the next frame replaced it)
    fallback: str = ""  # why the item's card was shown instead of its file ("" when the file played)

    def __post_init__(self) -> None:
        _check_aware(self)
        if (self.ended_utc is None) != (self.ended_mono is None):
            raise ValueError("PlayRecord: ended_utc and ended_mono are set together")
        if self.ended_mono is not None and self.ended_mono < self.started_mono:
            raise ValueError("PlayRecord: ended_mono is before started_mono")

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_mono is None else self.ended_mono - self.started_mono


@dataclass(frozen=True)
class ViewerRecord(_Row):
    """One anonymous person's visit: random id, coarse bands with confidences, and what they did."""

    TABLE: ClassVar[str] = "viewers"

    viewer_id: str
    session_id: str
    first_seen_utc: datetime
    last_seen_utc: datetime
    dwell_s: float
    attention_s: float
    age_band: AgeBand
    age_confidence: float
    gender: Gender
    gender_confidence: float
    mood: Mood
    mood_confidence: float
    returning: bool
    group_size: int
    is_passer_by: bool
    is_watcher: bool
    model_versions: str
    status: Status = Status.OPEN
    # The way the person moved for most of the visit (approaching, leaving, left_to_right, right_to_left), standing
    # when they never moved, unknown when the source cannot tell.
    direction: Direction = Direction.UNKNOWN

    def __post_init__(self) -> None:
        _check_aware(self)
        _check_nonneg(self, "dwell_s", "attention_s")
        if self.attention_s > self.dwell_s + 1e-6:
            raise ValueError(f"ViewerRecord: attention_s {self.attention_s} exceeds dwell_s {self.dwell_s}")


@dataclass(frozen=True)
class ExposureRecord(_Row):
    """One viewer during one play: closed when the viewer leaves or the item ends. The reward comes from here."""

    TABLE: ClassVar[str] = "exposures"

    exposure_id: str
    session_id: str
    viewer_id: str
    play_id: str
    decision_id: str
    item_id: str
    started_utc: datetime
    ended_utc: datetime | None
    dwell_s: float
    attention_s: float
    held: bool
    reward: float | None = None
    status: Status = Status.OPEN
    # Reaction to content: the viewer's share of time facing the screen and mood band in the reaction window
    # before the item started and in the same span after it (None where the viewer was not seen then).
    attention_share_before: float | None = None
    attention_share_after: float | None = None
    mood_before: Mood | None = None
    mood_after: Mood | None = None

    def __post_init__(self) -> None:
        _check_aware(self)
        _check_nonneg(self, "dwell_s", "attention_s")
        for name in ("attention_share_before", "attention_share_after"):
            share = getattr(self, name)
            if share is not None and not 0.0 <= share <= 1.0:
                raise ValueError(f"ExposureRecord.{name} must be within [0, 1], got {share}")
        if self.attention_s > self.dwell_s + 1e-6:
            raise ValueError(f"ExposureRecord: attention_s {self.attention_s} exceeds dwell_s {self.dwell_s}")
        if self.reward is not None and not math.isfinite(self.reward):
            raise ValueError("ExposureRecord.reward must be finite")


@dataclass(frozen=True)
class EventRecord(_Row):
    """A lifecycle event (start, update, end) of a viewer, exposure, play, session, camera or the store itself."""

    TABLE: ClassVar[str] = "events"

    event_id: str
    session_id: str
    kind: EventKind
    phase: Phase
    subject_id: str
    t_utc: datetime
    t_mono: float
    payload: Mapping[str, Any]

    def __post_init__(self) -> None:
        _check_aware(self)
        _dumps(dict(self.payload))  # fails early on a payload that cannot be logged
        object.__setattr__(self, "payload", types.MappingProxyType(dict(self.payload)))


Record = SessionRecord | DecisionRecord | PlayRecord | ViewerRecord | ExposureRecord | EventRecord
RECORD_TYPES: tuple[type[Record], ...] = (
    SessionRecord,
    DecisionRecord,
    PlayRecord,
    ViewerRecord,
    ExposureRecord,
    EventRecord,
)
