"""Records: the frozen rows the engine logs, each with its table and a lossless round-trip to a SQLite row.

Rows are keyed by a globally unique, time-ordered id (signage.ids), so a row written twice (an update that closes
an open row, or a resend to the central database) replaces itself instead of duplicating. Times are ISO 8601 UTC
text plus the monotonic clock reading; lists and mappings are JSON text.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Self

from signage.clock import iso_utc, parse_iso_utc
from signage.types import AgeBand, Gender, Mood

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


def _opt_time(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


def _opt_parse(value: str | None) -> datetime | None:
    return None if value is None else parse_iso_utc(value)


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
class SessionRecord:
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

    def to_row(self) -> Row:
        return {
            "id": self.session_id,
            "screen_id": self.screen_id,
            "started_utc": iso_utc(self.started_utc),
            "started_mono": self.started_mono,
            "mode": self.mode,
            "software_version": self.software_version,
            "config_digest": self.config_digest,
            "last_seen_utc": iso_utc(self.last_seen_utc),
            "last_seen_mono": self.last_seen_mono,
            "ended_utc": _opt_time(self.ended_utc),
            "status": str(self.status),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(
            session_id=row["id"],
            screen_id=row["screen_id"],
            started_utc=parse_iso_utc(row["started_utc"]),
            started_mono=row["started_mono"],
            mode=row["mode"],
            software_version=row["software_version"],
            config_digest=row["config_digest"],
            last_seen_utc=parse_iso_utc(row["last_seen_utc"]),
            last_seen_mono=row["last_seen_mono"],
            ended_utc=_opt_parse(row["ended_utc"]),
            status=Status(row["status"]),
        )


@dataclass(frozen=True)
class DecisionRecord:
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

    def __post_init__(self) -> None:
        _check_aware(self)
        if not 0.0 < self.propensity <= 1.0:
            raise ValueError(f"DecisionRecord.propensity must be in (0, 1], got {self.propensity}")
        if self.item_id not in self.eligible:
            raise ValueError(f"DecisionRecord: chosen item {self.item_id!r} is not in the eligible set")
        _dumps(dict(self.context))  # fails early on a context that cannot be logged
        object.__setattr__(self, "context", MappingProxyType(dict(self.context)))
        object.__setattr__(self, "eligible", tuple(self.eligible))

    def to_row(self) -> Row:
        return {
            "id": self.decision_id,
            "session_id": self.session_id,
            "t_utc": iso_utc(self.t_utc),
            "t_mono": self.t_mono,
            "context": _dumps(dict(self.context)),
            "eligible": _dumps(list(self.eligible)),
            "item_id": self.item_id,
            "propensity": self.propensity,
            "policy": self.policy,
            "policy_version": self.policy_version,
            "reason": self.reason,
            "arm": self.arm,
            "trigger": self.trigger,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(
            decision_id=row["id"],
            session_id=row["session_id"],
            t_utc=parse_iso_utc(row["t_utc"]),
            t_mono=row["t_mono"],
            context=json.loads(row["context"]),
            eligible=tuple(json.loads(row["eligible"])),
            item_id=row["item_id"],
            propensity=row["propensity"],
            policy=row["policy"],
            policy_version=row["policy_version"],
            reason=row["reason"],
            arm=row["arm"],
            trigger=row["trigger"],
        )


@dataclass(frozen=True)
class PlayRecord:
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

    def __post_init__(self) -> None:
        _check_aware(self)
        if (self.ended_utc is None) != (self.ended_mono is None):
            raise ValueError("PlayRecord: ended_utc and ended_mono are set together")
        if self.ended_mono is not None and self.ended_mono < self.started_mono:
            raise ValueError("PlayRecord: ended_mono is before started_mono")

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_mono is None else self.ended_mono - self.started_mono

    def to_row(self) -> Row:
        return {
            "id": self.play_id,
            "session_id": self.session_id,
            "decision_id": self.decision_id,
            "item_id": self.item_id,
            "started_utc": iso_utc(self.started_utc),
            "started_mono": self.started_mono,
            "ended_utc": _opt_time(self.ended_utc),
            "ended_mono": self.ended_mono,
            "measured": int(self.measured),
            "status": str(self.status),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(
            play_id=row["id"],
            session_id=row["session_id"],
            decision_id=row["decision_id"],
            item_id=row["item_id"],
            started_utc=parse_iso_utc(row["started_utc"]),
            started_mono=row["started_mono"],
            ended_utc=_opt_parse(row["ended_utc"]),
            ended_mono=row["ended_mono"],
            measured=bool(row["measured"]),
            status=Status(row["status"]),
        )


@dataclass(frozen=True)
class ViewerRecord:
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

    def __post_init__(self) -> None:
        _check_aware(self)
        _check_nonneg(self, "dwell_s", "attention_s")
        if self.attention_s > self.dwell_s + 1e-6:
            raise ValueError(f"ViewerRecord: attention_s {self.attention_s} exceeds dwell_s {self.dwell_s}")

    def to_row(self) -> Row:
        return {
            "id": self.viewer_id,
            "session_id": self.session_id,
            "first_seen_utc": iso_utc(self.first_seen_utc),
            "last_seen_utc": iso_utc(self.last_seen_utc),
            "dwell_s": self.dwell_s,
            "attention_s": self.attention_s,
            "age_band": str(self.age_band),
            "age_confidence": self.age_confidence,
            "gender": str(self.gender),
            "gender_confidence": self.gender_confidence,
            "mood": str(self.mood),
            "mood_confidence": self.mood_confidence,
            "returning": int(self.returning),
            "group_size": self.group_size,
            "is_passer_by": int(self.is_passer_by),
            "is_watcher": int(self.is_watcher),
            "model_versions": self.model_versions,
            "status": str(self.status),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(
            viewer_id=row["id"],
            session_id=row["session_id"],
            first_seen_utc=parse_iso_utc(row["first_seen_utc"]),
            last_seen_utc=parse_iso_utc(row["last_seen_utc"]),
            dwell_s=row["dwell_s"],
            attention_s=row["attention_s"],
            age_band=AgeBand(row["age_band"]),
            age_confidence=row["age_confidence"],
            gender=Gender(row["gender"]),
            gender_confidence=row["gender_confidence"],
            mood=Mood(row["mood"]),
            mood_confidence=row["mood_confidence"],
            returning=bool(row["returning"]),
            group_size=row["group_size"],
            is_passer_by=bool(row["is_passer_by"]),
            is_watcher=bool(row["is_watcher"]),
            model_versions=row["model_versions"],
            status=Status(row["status"]),
        )


@dataclass(frozen=True)
class ExposureRecord:
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

    def __post_init__(self) -> None:
        _check_aware(self)
        _check_nonneg(self, "dwell_s", "attention_s")
        if self.attention_s > self.dwell_s + 1e-6:
            raise ValueError(f"ExposureRecord: attention_s {self.attention_s} exceeds dwell_s {self.dwell_s}")
        if self.reward is not None and not math.isfinite(self.reward):
            raise ValueError("ExposureRecord.reward must be finite")

    def to_row(self) -> Row:
        return {
            "id": self.exposure_id,
            "session_id": self.session_id,
            "viewer_id": self.viewer_id,
            "play_id": self.play_id,
            "decision_id": self.decision_id,
            "item_id": self.item_id,
            "started_utc": iso_utc(self.started_utc),
            "ended_utc": _opt_time(self.ended_utc),
            "dwell_s": self.dwell_s,
            "attention_s": self.attention_s,
            "held": int(self.held),
            "reward": self.reward,
            "status": str(self.status),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(
            exposure_id=row["id"],
            session_id=row["session_id"],
            viewer_id=row["viewer_id"],
            play_id=row["play_id"],
            decision_id=row["decision_id"],
            item_id=row["item_id"],
            started_utc=parse_iso_utc(row["started_utc"]),
            ended_utc=_opt_parse(row["ended_utc"]),
            dwell_s=row["dwell_s"],
            attention_s=row["attention_s"],
            held=bool(row["held"]),
            reward=row["reward"],
            status=Status(row["status"]),
        )


@dataclass(frozen=True)
class EventRecord:
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
        object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))

    def to_row(self) -> Row:
        return {
            "id": self.event_id,
            "session_id": self.session_id,
            "kind": str(self.kind),
            "phase": str(self.phase),
            "subject_id": self.subject_id,
            "t_utc": iso_utc(self.t_utc),
            "t_mono": self.t_mono,
            "payload": _dumps(dict(self.payload)),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(
            event_id=row["id"],
            session_id=row["session_id"],
            kind=EventKind(row["kind"]),
            phase=Phase(row["phase"]),
            subject_id=row["subject_id"],
            t_utc=parse_iso_utc(row["t_utc"]),
            t_mono=row["t_mono"],
            payload=json.loads(row["payload"]),
        )


Record = SessionRecord | DecisionRecord | PlayRecord | ViewerRecord | ExposureRecord | EventRecord
RECORD_TYPES: tuple[type[Record], ...] = (
    SessionRecord,
    DecisionRecord,
    PlayRecord,
    ViewerRecord,
    ExposureRecord,
    EventRecord,
)
