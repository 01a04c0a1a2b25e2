"""The live observation source: camera → face (and body) perception → tracking, one `Observation` per engine tick.

A worker thread takes the newest frame from the camera supervisor, runs the face pipeline on it and calls the
tracker exactly once per new frame; the engine's tick only picks up the newest tracks (newest wins, skipped results
are counted), so perception never holds up the frames the player presents.

While the camera is not LIVE the observation says `camera_ok=False` (degraded mode: the engine flags plays as
unmeasured, the rules treat the camera as out). Every camera state change becomes an `EventRecord` of kind CAMERA,
handed to the engine through `drain_records`:

- an outage opens (START, subject: a new outage id) when the camera goes STALLED or OFFLINE (from LIVE, or when it
  cannot open at start), goes on (UPDATE) while it restarts, and closes (END) when frames are back (LIVE), when the
  source stops, or when the engine finishes (`closing=True`);
- changes outside an outage (the first frame at start, a file that ends) are UPDATEs of the camera itself, whose
  subject is the source's own id.

When a play starts (the engine calls `play_started`, also for the same item again), the profiler hears of it
(`TrackProfiler.item_started`), so the moods of the faces watching are measured again shortly after the start:
that is what an exposure's reaction compares.

Frames and crops stay in memory: nothing here writes a file.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from signage.capture import CameraEvent, CameraState, CameraSupervisor
from signage.clock import Clock
from signage.ids import new_id
from signage.perception.bodies import BodyDetections
from signage.perception.pipeline import FaceAnalysis
from signage.perception.profiles import TrackProfiler
from signage.records import EventKind, EventRecord, Phase, Record
from signage.tracking import PersonDetections, Tracker
from signage.types import ContentItem, FloatArray, Frame, Observation, Tracks

log = logging.getLogger(__name__)

FRAME_WAIT_S = 0.1  # how long the worker waits for a frame before it looks at its stop flag again
_OUTAGE_STATES = frozenset({CameraState.STALLED, CameraState.OFFLINE})


class FaceAnalyzer(Protocol):
    """Perception as the live source uses it (`FacePipeline` is one)."""

    def analyze(self, frame: Frame) -> FaceAnalysis: ...


class BodyFinder(Protocol):
    """The bodies the face detector cannot see, at the body model's own cadence (`BodySchedule` is one)."""

    def faceless_bodies(self, frame: Frame, face_boxes: FloatArray) -> BodyDetections: ...


@dataclass(frozen=True)
class LiveStats:
    frames: int  # frames perceived and tracked
    skipped: int  # tracked results replaced by a newer one before any tick took them
    perception_ms_mean: float  # mean wall time of perception + tracking per frame
    camera_state: CameraState


@dataclass(frozen=True)
class _Result:
    tracks: Tracks
    frame_index: int


class LiveSource:
    """`ObservationSource` from a camera; also a record source (camera events) for the engine.

    `start()` starts the camera and the perception worker; `close()` stops both (idempotent). Use as a context
    manager.
    """

    def __init__(
        self,
        *,
        camera: CameraSupervisor,
        analyzer: FaceAnalyzer,
        tracker: Tracker,
        clock: Clock,
        profiler: TrackProfiler | None = None,
        bodies: BodyFinder | None = None,
    ) -> None:
        self._profiler = profiler  # attributes and re-identification keys, once per track
        self._bodies = bodies  # people without a visible face (back turned): tracked, counted as passers-by
        self._camera = camera
        self._analyzer = analyzer
        self._tracker = tracker
        self._clock = clock
        self.source_id = new_id()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()  # the worker has nothing in hand (set while it waits for a frame)
        self._first_event = threading.Event()
        self._worker: threading.Thread | None = None
        self._newest: _Result | None = None
        self._events: list[CameraEvent] = []
        self._first_event_seen: CameraEvent | None = None
        self._outage_id: str | None = None
        self._outage_started = 0.0
        self._frames = 0
        self._skipped = 0
        self._busy_s = 0.0
        self._item_started: float | None = None  # a play start the worker has not told the profiler about yet

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> LiveSource:
        if self._worker is not None:
            raise RuntimeError("LiveSource.start: already started")
        self._camera.start()
        self._worker = threading.Thread(target=self._work, name="live-perception", daemon=True)
        self._worker.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(5.0)
        self._camera.stop()

    def __enter__(self) -> LiveSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_first_event(self, timeout_s: float) -> CameraEvent | None:
        """The camera's first state change (LIVE, OFFLINE, ...), waiting up to `timeout_s`; None if none came."""
        self._first_event.wait(timeout_s)
        with self._lock:
            return self._first_event_seen

    def ended(self) -> bool:
        """True once the source stopped for good (a file ended) and its last result was handed out."""
        with self._lock:
            pending = self._newest is not None
        return self._camera.state is CameraState.STOPPED and self._idle.is_set() and not pending

    def stats(self) -> LiveStats:
        with self._lock:
            frames, skipped, busy = self._frames, self._skipped, self._busy_s
        return LiveStats(
            frames=frames,
            skipped=skipped,
            perception_ms_mean=busy / frames * 1e3 if frames else 0.0,
            camera_state=self._camera.state,
        )

    # -- what the engine calls ---------------------------------------------------------------------------------
    def step(self, t_mono: float, t_utc: datetime, showing: ContentItem | None) -> Observation:
        """The people of the newest frame tracked since the last step (none if no new frame came)."""
        with self._lock:
            result, self._newest = self._newest, None
        camera_ok = self._camera.state is CameraState.LIVE
        tracks = result.tracks if result is not None and camera_ok else Tracks.empty()
        return Observation(t_mono=t_mono, t_utc=t_utc, tracks=tracks, camera_ok=camera_ok)

    def play_started(self, t_mono: float) -> None:
        """A play started on screen at `t_mono` (the engine's `PlayListener` call, from its thread)."""
        with self._lock:
            self._item_started = t_mono

    def drain_records(self, session_id: str, *, closing: bool = False) -> tuple[Record, ...]:
        """The camera's state changes since the last call as events; `closing` also ends an open outage."""
        with self._lock:
            events, self._events = self._events, []
        now_mono, now_utc = self._clock.monotonic(), self._clock.utc()
        records: list[Record] = [self._record(event, session_id, now_mono, now_utc) for event in events]
        if closing and self._outage_id is not None:
            payload: dict[str, object] = {
                "state": str(self._camera.state),
                "reason": "engine stopped",
                "outage_s": self._outage_s(now_mono),
            }
            records.append(self._event(session_id, Phase.END, self._outage_id, now_mono, now_utc, payload))
            self._outage_id = None
        return tuple(records)

    # -- camera events → rows ----------------------------------------------------------------------------------
    def _record(self, event: CameraEvent, session_id: str, now_mono: float, now_utc: datetime) -> EventRecord:
        utc = now_utc - timedelta(seconds=now_mono - event.t_mono)
        payload: dict[str, object] = {
            "seq": event.seq,
            "transition": str(event.transition),
            "previous": str(event.previous),
            "state": str(event.state),
            "reason": event.reason,
            "restarts": event.restarts,
            "frames": event.frames,
            "drops": event.drops,
        }
        if self._outage_id is None and event.state in _OUTAGE_STATES:
            self._outage_id, self._outage_started = new_id(), event.t_mono
            return self._event(session_id, Phase.START, self._outage_id, event.t_mono, utc, payload)
        if self._outage_id is None:
            return self._event(session_id, Phase.UPDATE, self.source_id, event.t_mono, utc, payload)
        subject = self._outage_id
        if event.state in (CameraState.LIVE, CameraState.STOPPED):
            payload["outage_s"] = self._outage_s(event.t_mono)
            self._outage_id = None
            return self._event(session_id, Phase.END, subject, event.t_mono, utc, payload)
        return self._event(session_id, Phase.UPDATE, subject, event.t_mono, utc, payload)

    def _outage_s(self, t_mono: float) -> float:
        return round(max(0.0, t_mono - self._outage_started), 3)

    @staticmethod
    def _event(
        session_id: str, phase: Phase, subject: str, t_mono: float, utc: datetime, payload: dict[str, object]
    ) -> EventRecord:
        return EventRecord(
            event_id=new_id(),
            session_id=session_id,
            kind=EventKind.CAMERA,
            phase=phase,
            subject_id=subject,
            t_utc=utc,
            t_mono=t_mono,
            payload=payload,
        )

    # -- the perception worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            self._collect_events()
            self._idle.set()
            frame = self._camera.latest(timeout_s=FRAME_WAIT_S)
            if frame is None:
                continue
            self._idle.clear()
            started = self._clock.monotonic()
            try:
                analysis = self._analyzer.analyze(frame)
                detections = PersonDetections.from_faces(analysis.detections, analysis.head_pose, analysis.gaze)
                if self._bodies is not None:
                    bodies = self._bodies.faceless_bodies(frame, analysis.detections.boxes)
                    detections = detections.with_bodies(bodies.boxes, bodies.scores)
                tracks = self._tracker.update(detections, frame.t_mono)
                if self._profiler is not None:
                    with self._lock:
                        item_start, self._item_started = self._item_started, None
                    if item_start is not None:
                        self._profiler.item_started(item_start)
                    tracks = self._profiler.annotate(frame, analysis.detections, tracks, frame.t_mono)
            except Exception:  # a perception bug must not end the live loop: this frame is lost, the next is tried
                log.exception("live: perception failed on frame %d", frame.index)
                continue
            busy = self._clock.monotonic() - started
            with self._lock:
                self._skipped += self._newest is not None
                self._newest = _Result(tracks=tracks, frame_index=frame.index)
                self._frames += 1
                self._busy_s += busy
        self._collect_events()
        self._idle.set()

    def _collect_events(self) -> None:
        events = self._camera.events()
        if not events:
            return
        with self._lock:
            self._events.extend(events)
            if self._first_event_seen is None:
                self._first_event_seen = events[0]
        self._first_event.set()
