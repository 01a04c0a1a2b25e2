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
- direction of movement: the viewer row keeps the way the person moved for the most time over the visit
  (approaching, leaving, left_to_right, right_to_left; standing if they never moved);
- reaction to content: per exposure, the viewer's share of time facing and most frequent mood band in the
  `reaction_window_s` before the item started and after it started (moods after it only from
  `reaction_mood_delay_s` on: a face takes a moment to react), set on the exposure when it closes.
Time between two sightings counts only up to `max_gap_s`, so a missed detection does not break a streak and a
long gap does not count as attention.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from signage.audience.reading import ReadingChange, ReadingMonitor, params_from_config
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
    Mood,
    Observation,
    Viewer,
    ViewerStatus,
)

ENDED_TRACK_MEMORY_S = 60.0  # how long the end of a visit is remembered for its track (the tracker drops far sooner)


@dataclass(frozen=True)
class AudienceUpdate:
    """One tick's result: who is there now, the rows to log, and the exposures that just closed (rewards)."""

    snapshot: AudienceSnapshot
    records: tuple[Record, ...]
    closed_exposures: tuple[ExposureRecord, ...]


@dataclass(frozen=True)
class _Sighting:
    """One tick of a visit, kept for the reaction window: time, time credited since the last sighting, facing, mood."""

    t: float
    dt: float
    facing: bool
    mood: Mood


@dataclass
class _Reaction:
    """Facing time and moods seen over one span of the reaction window."""

    seen_s: float = 0.0
    facing_s: float = 0.0
    moods: collections.Counter[Mood] = field(default_factory=collections.Counter)

    def add(self, sighting: _Sighting, *, mood: bool = True) -> None:
        self.seen_s += sighting.dt
        self.facing_s += sighting.dt if sighting.facing else 0.0
        if mood and sighting.mood is not Mood.UNKNOWN:
            self.moods[sighting.mood] += 1

    @property
    def share(self) -> float | None:
        return min(1.0, self.facing_s / self.seen_s) if self.seen_s > 0 else None

    @property
    def mood(self) -> Mood | None:
        """The mood band seen most often (None: no known mood in the span)."""
        return self.moods.most_common(1)[0][0] if self.moods else None


@dataclass
class _Exposure:
    exposure_id: str
    play: PlayRecord
    started_mono: float
    started_utc: datetime
    attention_s: float = 0.0
    before: _Reaction | None = None  # None: the viewer was not seen before the item started
    after: _Reaction = field(default_factory=_Reaction)


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
    recent: collections.deque[_Sighting] = field(default_factory=collections.deque)  # the last reaction window
    # Re-id continuation (see AudienceStage.update): while a new track may still turn out to be someone whose visit
    # is open, its rows wait here (None: committed) with its sightings, to be replayed into that visit.
    pending: list[Record] | None = None
    pending_closed: list[ExposureRecord] = field(default_factory=list)
    pending_sightings: list[tuple[float, datetime, _Sighting]] = field(default_factory=list)
    continued: bool = False  # the visit moved to a new track: that track's "returning" flag is about this visit
    moves: dict[Direction, float] = field(default_factory=dict)  # seconds moving in each direction

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


def _travel(moves: dict[Direction, float]) -> Direction:
    """The way a visit moved for the most time; standing if it never moved, unknown if no direction was known."""
    moving = [(seconds, str(d), d) for d, seconds in moves.items() if d is not Direction.STANDING]
    if moving:
        return max(moving)[2]
    return Direction.STANDING if moves else Direction.UNKNOWN


class AudienceStage:
    """Keeps one visit per track id and turns sightings into viewers, exposures and events."""

    def __init__(self, config: AudienceConfig, *, session_id: str, model_versions: str) -> None:
        self._config = config
        self._session_id = session_id
        self._model_versions = model_versions
        self._visits: dict[int, _Visit] = {}
        # Track id -> last sighting of its visit that ended while the tracker kept the track: a later visit of the
        # same track starts when it is seen again, never back at the track's first sighting (no overlapping visits).
        self._ended_tracks: dict[int, float] = {}
        self._camera_ok = True
        self._reading_params = params_from_config(config)

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

        present = set(tracks.ids.tolist())
        for i, track_id in enumerate(tracks.ids.tolist()):
            gid = int(tracks.group_ids[i])
            group_size = group_counts.get(gid, 1) if gid >= 0 else 1
            key = tracks.person_keys[i]
            first_records, first_closed = len(records), len(closed)
            visit = self._visits.get(track_id)
            # A track new to the stage was first sighted a little before it got its id: its visit starts there. A
            # track whose earlier visit ended (unseen too long) comes back now: its first sighting was that visit's.
            earlier = 0.0
            if visit is None and self._ended_tracks.pop(track_id, None) is None:
                earlier = float(tracks.seen_for[i])
            t_first, utc_first = t - earlier, utc - timedelta(seconds=earlier)
            sightings: list[tuple[float, datetime, float]] = []  # (time, utc, time credited since the last one)
            if visit is not None and visit.pending is not None and key:
                orphan = self._orphan(key, present, t)
                if orphan is not None:
                    visit = self._continue(orphan, visit, records, closed)
                else:
                    self._commit(visit, records, closed)
            elif visit is None and key and (orphan := self._orphan(key, present, t)) is not None:
                visit = self._rebind(orphan, track_id)
            if visit is None:
                visit = _Visit(
                    viewer_id=new_id(),
                    track_id=track_id,
                    first_mono=t_first,
                    first_utc=utc_first,
                    last_mono=t_first,
                    last_utc=utc_first,
                    attributes=tracks.attributes[i],
                    returning=bool(tracks.returning[i]),
                    direction=tracks.directions[i],
                    group_size=group_size,
                    person_key=key,
                    next_update_mono=t + self._config.update_interval_s,
                    reading=ReadingMonitor(self._reading_params),
                )
                if not key and self._orphan(None, present, t) is not None:
                    visit.pending = []  # its key may show it is someone whose visit is still open
                self._visits[track_id] = visit
                records.append(self._viewer_record(visit, Status.OPEN))
                records.append(
                    self._event(EventKind.VIEWER, Phase.START, visit.viewer_id, t_first, utc_first, self._bands(visit))
                )
                if earlier > 0:
                    sightings.append((t_first, utc_first, 0.0))
            else:
                if earlier > 0 and t_first > visit.last_mono:  # a new track continues an open visit (re-id)
                    sightings.append((t_first, utc_first, min(t_first - visit.last_mono, self._config.max_gap_s)))
                visit.attributes = _better(visit.attributes, tracks.attributes[i])
                if not visit.continued:
                    visit.returning = visit.returning or bool(tracks.returning[i])
                if tracks.directions[i] is not Direction.UNKNOWN:
                    visit.direction = tracks.directions[i]
                visit.group_size = max(visit.group_size, group_size)
                visit.person_key = visit.person_key or key
            last = sightings[-1][0] if sightings else visit.last_mono
            sightings.append((t, utc, min(t - last, self._config.max_gap_s)))
            for when, when_utc, dt in sightings:
                # The tracker reports only how long ago a track was first seen: its facing then is taken as now (it
                # starts the facing streak), its mood is not known (it may fall before an item's start).
                mood = tracks.attributes[i].mood if when == t else Mood.UNKNOWN
                sighting = _Sighting(when, dt, bool(facing[i]), mood)
                self._sight(visit, sighting, when_utc, play, records, closed)
                if visit.pending is not None:
                    visit.pending_sightings.append((when, when_utc, sighting))
            if (way := tracks.directions[i]) is not Direction.UNKNOWN:  # a first sighting (no time) still counts
                visit.moves[way] = visit.moves.get(way, 0.0) + sum(dt for _, _, dt in sightings) + 1e-3
            self._follow_gaze(visit, float(gaze_x[i]), play, t, utc, records)
            if visit.pending is not None:
                visit.pending.extend(records[first_records:])
                visit.pending_closed.extend(closed[first_closed:])
                del records[first_records:], closed[first_closed:]
                if self._orphan(None, present, t) is None:
                    self._commit(visit, records, closed)  # nobody left whom it could continue

        for track_id in [k for k, v in self._visits.items() if t - v.last_mono > self._config.lost_after_s]:
            visit = self._visits.pop(track_id)
            self._ended_tracks[track_id] = visit.last_mono
            self._end_visit(visit, records, closed)
        for track_id in [k for k, last in self._ended_tracks.items() if t - last > ENDED_TRACK_MEMORY_S]:
            del self._ended_tracks[track_id]

        snapshot = AudienceSnapshot(
            t_mono=t,
            t_utc=utc,
            viewers=tuple(self._viewer(v) for v in self._visits.values() if v.pending is None),
            camera_ok=observation.camera_ok,
        )
        return AudienceUpdate(snapshot=snapshot, records=tuple(records), closed_exposures=tuple(closed))

    def _sight(
        self,
        visit: _Visit,
        sighting: _Sighting,
        utc: datetime,
        play: PlayRecord | None,
        records: list[Record],
        closed: list[ExposureRecord],
    ) -> None:
        """Fold one sighting into a visit: exposure, attention, facing streak, passer-by and watcher, updates."""
        t, dt, is_facing = sighting.t, sighting.dt, sighting.facing
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
        self._remember(visit, sighting, switched)
        visit.last_mono, visit.last_utc = t, utc
        visit.is_passer_by = visit.is_passer_by or visit.dwell_s >= self._config.passer_by_min_s
        visit.is_watcher = visit.is_watcher or visit.streak_s >= self._config.watcher_min_s
        if t >= visit.next_update_mono:
            visit.next_update_mono = t + self._config.update_interval_s
            records.append(self._viewer_record(visit, Status.OPEN))
            records.append(self._event(EventKind.VIEWER, Phase.UPDATE, visit.viewer_id, t, utc, self._metrics(visit)))

    # -- one visit per person: re-id continuation ----------------------------------------------------------------
    # The tracker may drop a person's track sooner than `lost_after_s` (a face hidden for a moment) and start a new
    # one when the face is back. When re-id gives the new track the key of a visit that is still open and whose
    # track is gone, the visit goes on under the new track: one person, one visit. A new track without a key while
    # such a visit exists is held back (its rows wait) until its key comes or no such visit is left.
    def _orphan(self, key: str | None, present: set[int], t: float) -> _Visit | None:
        """An open, committed visit with a re-id key (this one, or any if None) whose track is not seen now."""
        for visit in self._visits.values():
            if (
                visit.person_key
                and (key is None or visit.person_key == key)
                and visit.track_id not in present
                and visit.pending is None
                and t - visit.last_mono <= self._config.lost_after_s
            ):
                return visit
        return None

    def _rebind(self, visit: _Visit, track_id: int) -> _Visit:
        del self._visits[visit.track_id]
        visit.track_id, visit.continued = track_id, True
        self._visits[track_id] = visit
        return visit

    def _continue(self, visit: _Visit, young: _Visit, records: list[Record], closed: list[ExposureRecord]) -> _Visit:
        """`young` (pending) was `visit`'s person: replay its sightings into `visit` and drop its rows."""
        del self._visits[young.track_id]
        self._rebind(visit, young.track_id)
        visit.attributes = _better(visit.attributes, young.attributes)
        for way, seconds in young.moves.items():
            visit.moves[way] = visit.moves.get(way, 0.0) + seconds
        for t, utc, sighting in young.pending_sightings:
            dt = min(t - visit.last_mono, self._config.max_gap_s)
            play = young.exposure.play if young.exposure is not None else None
            self._sight(visit, _Sighting(t, dt, sighting.facing, sighting.mood), utc, play, records, closed)
        return visit

    def _commit(self, visit: _Visit, records: list[Record], closed: list[ExposureRecord]) -> None:
        """A pending visit is a new person after all: its rows go out."""
        if visit.pending is None:
            return
        records.extend(visit.pending)
        closed.extend(visit.pending_closed)
        visit.pending, visit.pending_closed, visit.pending_sightings = None, [], []

    def switch_play(self, play: PlayRecord | None, t_mono: float, t_utc: datetime) -> AudienceUpdate:
        """The item on screen changed at this tick: close every exposure now and, for the people seen in this
        tick, open one on `play` (None: the screen shows nothing new yet, only close)."""
        records: list[Record] = []
        closed: list[ExposureRecord] = []
        for visit in self._visits.values():
            self._commit(visit, records, closed)
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
            self._commit(visit, records, closed)
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
            # A sighting dated before the item started (a track's first sighting) opens the exposure at the start.
            before_play = t < play.started_mono
            exposure = _Exposure(
                exposure_id=new_id(),
                play=play,
                started_mono=play.started_mono if before_play else t,
                started_utc=play.started_utc if before_play else utc,
                before=self._before(visit, play.started_mono),
            )
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

    # -- reaction to content ------------------------------------------------------------------------------------
    def _remember(self, visit: _Visit, sighting: _Sighting, switched: bool) -> None:
        """Keep the sighting for the reaction window and count it towards the open exposure's "after" span."""
        window = self._config.reaction_window_s
        visit.recent.append(sighting)
        while visit.recent and sighting.t - visit.recent[0].t > window:
            visit.recent.popleft()
        exposure = visit.exposure
        if exposure is None or sighting.t - exposure.play.started_mono > window:
            return
        # The time since the last sighting belongs to the item shown then: after a switch it is not "after".
        # A face takes a moment to react: moods count from `reaction_mood_delay_s` after the start.
        exposure.after.add(
            _Sighting(sighting.t, 0.0, sighting.facing, sighting.mood) if switched else sighting,
            mood=sighting.t - exposure.play.started_mono > self._config.reaction_mood_delay_s,
        )

    def _before(self, visit: _Visit, item_started: float) -> _Reaction | None:
        """The viewer's sightings in the reaction window before the item started (None if not seen then)."""
        earliest = item_started - self._config.reaction_window_s
        span = [s for s in visit.recent if earliest < s.t <= item_started]
        if not span:
            return None
        reaction = _Reaction()
        for sighting in span:
            reaction.add(sighting)
        return reaction

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
            attention_share_before=exposure.before.share if closed and exposure.before is not None else None,
            attention_share_after=exposure.after.share if closed else None,
            mood_before=exposure.before.mood if closed and exposure.before is not None else None,
            mood_after=exposure.after.mood if closed else None,
        )

    # -- reading -------------------------------------------------------------------------------------------------
    def _follow_gaze(
        self, visit: _Visit, gaze_deg: float, play: PlayRecord | None, t: float, utc: datetime, records: list[Record]
    ) -> None:
        """Feed the viewer's reading monitor; log the start and end of a reading spell."""
        measured = math.isfinite(gaze_deg)
        if measured:
            visit.gaze_mono = t
        elif not visit.reading.reading and t - visit.gaze_mono > self._reading_params.window_s:
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
        self._commit(visit, records, closed)
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
            direction=_travel(visit.moves),
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
