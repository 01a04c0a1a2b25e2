"""The audience stage: tracks in, viewer states, metrics and lifecycle records out.

Definitions (docs/metrics.md has the full text):
- dwell: first sighting to last sighting of a visit; attention: time facing the screen (<= dwell);
- passer-by (OTS): in view for at least `passer_by_min_s`; watcher: facing for `watcher_min_s` without a break;
- an exposure is one viewer during one play, closed when the viewer leaves or the item ends; it is held when its
  attention reaches `hold_threshold_s`;
- reading: a `ReadingMonitor` per viewer follows the horizontal gaze (`Tracks.gaze`, degrees from the screen's
  centre, mapped to screen widths over `reading_span_deg`); while it reports reading the viewer is READING, and the
  start and end of each reading spell are viewer events (phase update, payload {"reading": true/false, "item": the
  item on screen}).
Time between two sightings counts only up to `max_gap_s`, so a missed detection does not break a streak and a
long gap does not count as attention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from signage.audience.reading import DEFAULT_PARAMS as DEFAULT_READING
from signage.audience.reading import ReadingChange, ReadingMonitor
from signage.config import AudienceConfig
from signage.ids import new_id
from signage.records import (
    EventKind,
    EventRecord,
    ExposureRecord,
    Phase,
    PlayRecord,
    Record,
    Status,
    ViewerRecord,
)
from signage.types import (
    Attributes,
    AudienceSnapshot,
    Direction,
    Observation,
    Viewer,
    ViewerStatus,
)


@dataclass(frozen=True)
class AudienceUpdate:
    """One tick's result: who is there now, the rows to log, and the exposures that just closed (rewards)."""

    snapshot: AudienceSnapshot
    records: tuple[Record, ...]
    closed_exposures: tuple[ExposureRecord, ...]


@dataclass
class _Exposure:
    exposure_id: str
    play: PlayRecord
    started_mono: float
    started_utc: datetime
    attention_s: float = 0.0


@dataclass
class _Visit:
    """The stage's private, mutable bookkeeping for one person; only frozen values leave the stage."""

    viewer_id: str
    track_id: int
    first_mono: float
    first_utc: datetime
    last_mono: float
    last_utc: datetime
    attributes: Attributes
    returning: bool
    direction: Direction
    group_size: int
    person_key: str = ""
    attention_s: float = 0.0
    streak_s: float = 0.0
    facing: bool = False
    is_passer_by: bool = False
    is_watcher: bool = False
    next_update_mono: float = 0.0
    exposure: _Exposure | None = field(default=None)
    reading: ReadingMonitor = field(default_factory=ReadingMonitor)
    gaze_mono: float = -math.inf  # when a gaze was last measured (the monitor is fed only around gaze)

    @property
    def dwell_s(self) -> float:
        return self.last_mono - self.first_mono


def _better(current: Attributes, seen: Attributes) -> Attributes:
    """Keep the most confident reading of each attribute over the visit."""
    age = seen if seen.age_confidence > current.age_confidence else current
    gender = seen if seen.gender_confidence > current.gender_confidence else current
    mood = seen if seen.mood_confidence > current.mood_confidence else current
    return Attributes(
        age_band=age.age_band,
        age_confidence=age.age_confidence,
        gender=gender.gender,
        gender_confidence=gender.gender_confidence,
        mood=mood.mood,
        mood_confidence=mood.mood_confidence,
    )


class AudienceStage:
    """Keeps one visit per track id and turns sightings into viewers, exposures and events."""

    def __init__(self, config: AudienceConfig, *, session_id: str, model_versions: str) -> None:
        self._config = config
        self._session_id = session_id
        self._model_versions = model_versions
        self._visits: dict[int, _Visit] = {}
        self._camera_ok = True
        self._reading_window_s = DEFAULT_READING.window_s

    def update(self, observation: Observation, play: PlayRecord | None) -> AudienceUpdate:
        """Fold one tick of tracks in. `play` is what is on screen now (None before the first item)."""
        t, utc = observation.t_mono, observation.t_utc
        tracks = observation.tracks
        self._camera_ok = observation.camera_ok
        records: list[Record] = []
        closed: list[ExposureRecord] = []
        facing = tracks.facing(self._config.facing_max_yaw_deg, self._config.facing_max_pitch_deg)
        assert tracks.gaze is not None
        gaze_x = tracks.gaze[:, 0]
        group_counts: dict[int, int] = {}
        for gid in tracks.group_ids.tolist():
            if gid >= 0:
                group_counts[gid] = group_counts.get(gid, 0) + 1

        for i, track_id in enumerate(tracks.ids.tolist()):
            gid = int(tracks.group_ids[i])
            group_size = group_counts.get(gid, 1) if gid >= 0 else 1
            visit = self._visits.get(track_id)
            if visit is None:
                visit = _Visit(
                    viewer_id=new_id(),
                    track_id=track_id,
                    first_mono=t,
                    first_utc=utc,
                    last_mono=t,
                    last_utc=utc,
                    attributes=tracks.attributes[i],
                    returning=bool(tracks.returning[i]),
                    direction=tracks.directions[i],
                    group_size=group_size,
                    person_key=tracks.person_keys[i],
                    next_update_mono=t + self._config.update_interval_s,
                )
                self._visits[track_id] = visit
                records.append(self._viewer_record(visit, Status.OPEN))
                records.append(self._event(EventKind.VIEWER, Phase.START, visit.viewer_id, t, utc, self._bands(visit)))
                dt = 0.0
            else:
                dt = min(t - visit.last_mono, self._config.max_gap_s)
                visit.attributes = _better(visit.attributes, tracks.attributes[i])
                visit.returning = visit.returning or bool(tracks.returning[i])
                if tracks.directions[i] is not Direction.UNKNOWN:
                    visit.direction = tracks.directions[i]
                visit.group_size = max(visit.group_size, group_size)
                visit.person_key = visit.person_key or tracks.person_keys[i]
            is_facing = bool(facing[i])
            switched = self._switch_exposure(visit, play, t, utc, records, closed, dt if is_facing else 0.0)
            if is_facing:
                visit.attention_s += dt
                visit.streak_s = (
                    visit.streak_s + dt if visit.facing and t - visit.last_mono <= self._config.max_gap_s else 0.0
                )
                if visit.exposure is not None and not switched:  # a switch gave dt to the old exposure
                    visit.exposure.attention_s += dt
            else:
                visit.streak_s = 0.0
            visit.facing = is_facing
            self._follow_gaze(visit, float(gaze_x[i]), play, t, utc, records)
            visit.last_mono, visit.last_utc = t, utc
            visit.is_passer_by = visit.is_passer_by or visit.dwell_s >= self._config.passer_by_min_s
            visit.is_watcher = visit.is_watcher or visit.streak_s >= self._config.watcher_min_s
            if t >= visit.next_update_mono:
                visit.next_update_mono = t + self._config.update_interval_s
                records.append(self._viewer_record(visit, Status.OPEN))
                records.append(
                    self._event(EventKind.VIEWER, Phase.UPDATE, visit.viewer_id, t, utc, self._metrics(visit))
                )

        for track_id in [k for k, v in self._visits.items() if t - v.last_mono > self._config.lost_after_s]:
            self._end_visit(self._visits.pop(track_id), records, closed)

        snapshot = AudienceSnapshot(
            t_mono=t,
            t_utc=utc,
            viewers=tuple(self._viewer(v) for v in self._visits.values()),
            camera_ok=observation.camera_ok,
        )
        return AudienceUpdate(snapshot=snapshot, records=tuple(records), closed_exposures=tuple(closed))

    def switch_play(self, play: PlayRecord | None, t_mono: float, t_utc: datetime) -> AudienceUpdate:
        """The item on screen changed at this tick: close every exposure now and, for the people seen in this
        tick, open one on `play` (None: the screen shows nothing new yet, only close)."""
        records: list[Record] = []
        closed: list[ExposureRecord] = []
        for visit in self._visits.values():
            # Someone not seen in this tick gets an exposure to the new item only when next seen.
            seen_now = visit.last_mono == t_mono
            self._switch_exposure(visit, play if seen_now else None, t_mono, t_utc, records, closed, 0.0)
        viewers = tuple(self._viewer(v) for v in self._visits.values())
        snapshot = AudienceSnapshot(t_mono=t_mono, t_utc=t_utc, viewers=viewers, camera_ok=self._camera_ok)
        return AudienceUpdate(snapshot=snapshot, records=tuple(records), closed_exposures=tuple(closed))

    def close_all(self, t_mono: float, t_utc: datetime) -> AudienceUpdate:
        """End every open visit (the engine is stopping)."""
        records: list[Record] = []
        closed: list[ExposureRecord] = []
        for visit in self._visits.values():
            self._end_visit(visit, records, closed)
        self._visits.clear()
        snapshot = AudienceSnapshot(t_mono=t_mono, t_utc=t_utc, viewers=())
        return AudienceUpdate(snapshot=snapshot, records=tuple(records), closed_exposures=tuple(closed))

    # -- exposures ---------------------------------------------------------------------------------------------
    def _switch_exposure(
        self,
        visit: _Visit,
        play: PlayRecord | None,
        t: float,
        utc: datetime,
        records: list[Record],
        closed: list[ExposureRecord],
        facing_dt: float,
    ) -> bool:
        """Close the exposure of an item that is no longer on screen and open one for what is on now.

        The time since the last sighting belongs to the item that was on screen then, so it goes to the old
        exposure, which ends at this tick (the switch).
        """
        current = visit.exposure
        changed = False
        if current is not None and (play is None or current.play.play_id != play.play_id):
            changed = True
            current.attention_s += facing_dt
            record = self._exposure_record(visit, current, t, utc, Status.CLOSED)
            records.append(record)
            records.append(
                self._event(
                    EventKind.EXPOSURE, Phase.END, current.exposure_id, t, utc, {"attention_s": record.attention_s}
                )
            )
            closed.append(record)
            visit.exposure = current = None
        if current is None and play is not None:
            changed = True
            exposure = _Exposure(exposure_id=new_id(), play=play, started_mono=t, started_utc=utc)
            visit.exposure = exposure
            records.append(self._exposure_record(visit, exposure, None, None, Status.OPEN))
            records.append(
                self._event(
                    EventKind.EXPOSURE,
                    Phase.START,
                    exposure.exposure_id,
                    t,
                    utc,
                    {"viewer_id": visit.viewer_id, "play_id": play.play_id, "item_id": play.item_id},
                )
            )
        return changed

    def _exposure_record(
        self, visit: _Visit, exposure: _Exposure, end_mono: float | None, end_utc: datetime | None, status: Status
    ) -> ExposureRecord:
        dwell = 0.0 if end_mono is None else max(0.0, end_mono - exposure.started_mono)
        attention = min(exposure.attention_s, dwell)
        closed = status is not Status.OPEN
        return ExposureRecord(
            exposure_id=exposure.exposure_id,
            session_id=self._session_id,
            viewer_id=visit.viewer_id,
            play_id=exposure.play.play_id,
            decision_id=exposure.play.decision_id,
            item_id=exposure.play.item_id,
            started_utc=exposure.started_utc,
            ended_utc=end_utc,
            dwell_s=dwell,
            attention_s=attention,
            held=attention >= self._config.hold_threshold_s,
            reward=attention if closed else None,
            status=status,
        )

    # -- reading -------------------------------------------------------------------------------------------------
    def _follow_gaze(
        self, visit: _Visit, gaze_deg: float, play: PlayRecord | None, t: float, utc: datetime, records: list[Record]
    ) -> None:
        """Feed the viewer's reading monitor; log the start and end of a reading spell."""
        measured = math.isfinite(gaze_deg)
        if measured:
            visit.gaze_mono = t
        elif not visit.reading.reading and t - visit.gaze_mono > self._reading_window_s:
            return  # no gaze for a whole window: nothing to detect, and no cost per tick
        x = 0.5 + gaze_deg / self._config.reading_span_deg if measured else None
        change = visit.reading.update(t, x)
        if change is not None:
            started = change is ReadingChange.STARTED
            records.append(self._reading_event(visit, started, play, t, utc))

    def _reading_event(
        self, visit: _Visit, reading: bool, play: PlayRecord | None, t: float, utc: datetime
    ) -> EventRecord:
        payload: dict[str, object] = {"reading": reading, "item": play.item_id if play is not None else None}
        return self._event(EventKind.VIEWER, Phase.UPDATE, visit.viewer_id, t, utc, payload)

    def _end_visit(self, visit: _Visit, records: list[Record], closed: list[ExposureRecord]) -> None:
        if visit.reading.reading:
            play = visit.exposure.play if visit.exposure is not None else None
            records.append(self._reading_event(visit, False, play, visit.last_mono, visit.last_utc))
        if visit.exposure is not None:
            exposure = visit.exposure
            record = self._exposure_record(visit, exposure, visit.last_mono, visit.last_utc, Status.CLOSED)
            records.append(record)
            records.append(
                self._event(
                    EventKind.EXPOSURE,
                    Phase.END,
                    exposure.exposure_id,
                    visit.last_mono,
                    visit.last_utc,
                    {"attention_s": record.attention_s},
                )
            )
            closed.append(record)
            visit.exposure = None
        records.append(self._viewer_record(visit, Status.CLOSED))
        records.append(
            self._event(
                EventKind.VIEWER, Phase.END, visit.viewer_id, visit.last_mono, visit.last_utc, self._metrics(visit)
            )
        )

    # -- values out ----------------------------------------------------------------------------------------------
    def _viewer(self, visit: _Visit) -> Viewer:
        if visit.reading.reading:
            status = ViewerStatus.READING
        elif visit.facing and visit.streak_s >= self._config.hold_threshold_s:
            status = ViewerStatus.ATTENTIVE
        elif visit.is_watcher:
            status = ViewerStatus.WATCHER
        elif visit.is_passer_by:
            status = ViewerStatus.PASSER_BY
        else:
            status = ViewerStatus.PRESENT
        return Viewer(
            viewer_id=visit.viewer_id,
            track_id=visit.track_id,
            status=status,
            first_seen_mono=visit.first_mono,
            last_seen_mono=visit.last_mono,
            dwell_s=visit.dwell_s,
            attention_s=min(visit.attention_s, visit.dwell_s),
            facing=visit.facing,
            facing_streak_s=visit.streak_s,
            attributes=visit.attributes,
            returning=visit.returning,
            direction=visit.direction,
            group_size=visit.group_size,
            is_passer_by=visit.is_passer_by,
            is_watcher=visit.is_watcher,
            person_key=visit.person_key,
        )

    def _viewer_record(self, visit: _Visit, status: Status) -> ViewerRecord:
        a = visit.attributes
        return ViewerRecord(
            viewer_id=visit.viewer_id,
            session_id=self._session_id,
            first_seen_utc=visit.first_utc,
            last_seen_utc=visit.last_utc,
            dwell_s=visit.dwell_s,
            attention_s=min(visit.attention_s, visit.dwell_s),
            age_band=a.age_band,
            age_confidence=a.age_confidence,
            gender=a.gender,
            gender_confidence=a.gender_confidence,
            mood=a.mood,
            mood_confidence=a.mood_confidence,
            returning=visit.returning,
            group_size=visit.group_size,
            is_passer_by=visit.is_passer_by,
            is_watcher=visit.is_watcher,
            model_versions=self._model_versions,
            status=status,
        )

    @staticmethod
    def _bands(visit: _Visit) -> dict[str, object]:
        a = visit.attributes
        return {
            "age_band": str(a.age_band),
            "gender": str(a.gender),
            "mood": str(a.mood),
            "returning": visit.returning,
            "group_size": visit.group_size,
            "direction": str(visit.direction),
        }

    @staticmethod
    def _metrics(visit: _Visit) -> dict[str, object]:
        return {
            "dwell_s": round(visit.dwell_s, 3),
            "attention_s": round(min(visit.attention_s, visit.dwell_s), 3),
            "passer_by": visit.is_passer_by,
            "watcher": visit.is_watcher,
        }

    def _event(
        self, kind: EventKind, phase: Phase, subject_id: str, t: float, utc: datetime, payload: dict[str, object]
    ) -> EventRecord:
        return EventRecord(
            event_id=new_id(),
            session_id=self._session_id,
            kind=kind,
            phase=phase,
            subject_id=subject_id,
            t_utc=utc,
            t_mono=t,
            payload=payload,
        )
