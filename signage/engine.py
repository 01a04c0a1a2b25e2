"""The engine: the only place where the stages are wired together.

Each tick: end the play whose time is up and start the next (decision → play), read one observation from the
source (camera pipeline or virtual store), fold it into the audience, log every record through the store, hand the
rewards of closed exposures back to the policy, and present a frame.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from signage import __version__
from signage.audience import AudienceStage, AudienceUpdate
from signage.clock import SimClock
from signage.config import Config, config_digest
from signage.content import ContentPool
from signage.decision import Decider
from signage.ids import new_id
from signage.records import DecisionRecord, PlayRecord, SessionRecord, Status, ViewerRecord
from signage.store import StoreHealth, StoreWriter
from signage.types import AudienceSnapshot, ContentItem, Context, Observation

HEARTBEAT_S = 10.0  # how often the session row records that the engine is alive (crash recovery closes there)


class ObservationSource(Protocol):
    """Where the audience comes from: the camera pipeline or the virtual store."""

    def step(self, t_mono: float, t_utc: datetime, showing: ContentItem | None) -> Observation: ...


class Display(Protocol):
    def present(self, item: ContentItem, overlay_lines: Sequence[str] = ()) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Progress:
    t_utc: datetime
    sim_elapsed_s: float
    plays: int
    viewers_present: int
    passers_by: int
    watchers: int
    showing: str
    store: StoreHealth


@dataclass(frozen=True)
class RunSummary:
    session_id: str
    ticks: int
    plays: int
    sim_seconds: float
    real_seconds: float
    stopped_early: bool
    store_clean: bool
    store_error: str | None


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        source: ObservationSource,
        pool: ContentPool,
        decider: Decider,
        store: StoreWriter,
        clock: SimClock,
        display: Display | None = None,
        mode: str = "demo",
        model_versions: str = "sim-1",
    ) -> None:
        self._config = config
        self._source = source
        self._pool = pool
        self._decider = decider
        self._store = store
        self._clock = clock
        self._display = display
        self.session_id = new_id()
        self._audience = AudienceStage(config.audience, session_id=self.session_id, model_versions=model_versions)
        self._session = SessionRecord(
            session_id=self.session_id,
            screen_id=config.screen.id,
            started_utc=clock.utc(),
            started_mono=clock.monotonic(),
            mode=mode,
            software_version=__version__,
            config_digest=config_digest(config),
            last_seen_utc=clock.utc(),
            last_seen_mono=clock.monotonic(),
        )
        self._play: PlayRecord | None = None
        self._play_item: ContentItem | None = None
        self._play_ends_mono = 0.0
        self._snapshot = AudienceSnapshot(t_mono=clock.monotonic(), t_utc=clock.utc(), viewers=())
        self._contexts: OrderedDict[str, Context] = OrderedDict()  # decision id → context, for learning
        self._plays = 0
        self._passers_by = 0
        self._watchers = 0
        self._next_heartbeat = clock.monotonic() + HEARTBEAT_S
        self.stop_requested = threading.Event()

    # -- one tick ------------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """One observation: what was on screen up to now is measured first, then the item changes if due."""
        t, utc = self._clock.monotonic(), self._clock.utc()
        observation = self._source.step(t, utc, self._play_item)
        self._absorb(self._audience.update(observation, self._play))
        if self._play is None or t >= self._play_ends_mono:
            self._switch(t, utc, trigger="item_end")
        elif self._play_item is not None and self._decider.rules.is_restricted(self._play_item):
            if self._unsafe_for_restricted():
                # Someone who may be a minor just came into view (or the camera went out): cut the item now.
                self._switch(t, utc, trigger="restricted_preempt")
        if t >= self._next_heartbeat:
            self._next_heartbeat = t + HEARTBEAT_S
            self._session = replace(self._session, last_seen_utc=utc, last_seen_mono=t)
            self._store.write(self._session)

    def _unsafe_for_restricted(self) -> bool:
        return self._snapshot.minor_possible or not self._snapshot.camera_ok

    def _absorb(self, update: AudienceUpdate) -> None:
        """Log the audience's records and hand each closed exposure's reward to the policy that caused it."""
        self._snapshot = update.snapshot
        for record in update.records:
            self._store.write(record)
            if isinstance(record, ViewerRecord) and record.status is Status.CLOSED:
                self._passers_by += record.is_passer_by
                self._watchers += record.is_watcher
        for exposure in update.closed_exposures:
            self._decider.watched(
                exposure.viewer_id,
                exposure.item_id,
                attention_s=exposure.attention_s,
                t_utc=exposure.ended_utc or update.snapshot.t_utc,
            )
            context = self._contexts.get(exposure.decision_id)
            if context is not None and exposure.reward is not None:
                self._decider.policy.learn(context, exposure.item_id, exposure.reward)

    def _switch(self, t: float, utc: datetime, *, trigger: str) -> None:
        """End what is on screen now and start the next decision's item at the same instant: no gap.

        The exposures of the ending item close first, so the decision already knows (and the policy has learned)
        what the people in front of the screen just watched."""
        self._absorb(self._audience.switch_play(None, t, utc))
        self._end_play(t, utc)
        choice = self._decider.decide(self._snapshot)
        policy = self._decider.policy
        decision = DecisionRecord(
            decision_id=new_id(),
            session_id=self.session_id,
            t_utc=utc,
            t_mono=t,
            context=choice.context.to_json(),
            eligible=choice.eligible,
            item_id=choice.decision.item_id,
            propensity=choice.decision.propensity,
            policy=policy.name,
            policy_version=policy.version,
            reason=choice.decision.reason,
            arm=choice.arm,
            trigger=trigger,
        )
        self._contexts[decision.decision_id] = choice.context
        while len(self._contexts) > 256:
            self._contexts.popitem(last=False)
        item = self._pool.item(decision.item_id)
        self._play = PlayRecord(
            play_id=new_id(),
            session_id=self.session_id,
            decision_id=decision.decision_id,
            item_id=item.item_id,
            started_utc=utc,
            started_mono=t,
            measured=self._snapshot.camera_ok,
        )
        self._play_item = item
        self._play_ends_mono = t + item.duration_s
        self._plays += 1
        self._store.write(decision)
        self._store.write(self._play)
        self._absorb(self._audience.switch_play(self._play, t, utc))

    def _end_play(self, t: float, utc: datetime) -> None:
        if self._play is not None:
            self._store.write(replace(self._play, ended_utc=utc, ended_mono=t, status=Status.CLOSED))
            self._decider.played(self._play.item_id, self._play.started_utc, utc)
            self._play = None

    def present(self, overlay_lines: Sequence[str] = ()) -> bool:
        """Draw the current item; False when the viewer of the window asked to quit."""
        if self._display is None or self._play_item is None:
            return True
        return self._display.present(self._play_item, overlay_lines)

    def progress(self) -> Progress:
        return Progress(
            t_utc=self._clock.utc(),
            sim_elapsed_s=self._clock.monotonic() - self._session.started_mono,
            plays=self._plays,
            viewers_present=len(self._snapshot.viewers),
            passers_by=self._passers_by,
            watchers=self._watchers,
            showing=self._play.item_id if self._play else "-",
            store=self._store.health(),
        )

    # -- a whole run on the virtual clock -----------------------------------------------------------------------
    def run_simulated(
        self,
        duration_s: float,
        *,
        tick_s: float,
        speed: float,
        frame_interval_s: float,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every_s: float = 300.0,
        overlay: Callable[[Progress], Sequence[str]] | None = None,
    ) -> RunSummary:
        """Run for `duration_s` simulated seconds. `speed` is simulated seconds per real second (0: as fast as
        possible). A frame is presented at most every `frame_interval_s` of real time, and always at a switch."""
        self._store.write(self._session)
        real_start = time.monotonic()
        sim_start = self._clock.monotonic()
        next_progress = sim_start + progress_every_s
        next_frame = 0.0
        ticks = 0
        stopped = False
        for _ in range(round(duration_s / tick_s)):
            if self.stop_requested.is_set():
                stopped = True
                break
            plays_before = self._plays
            self.tick()
            ticks += 1
            now_real = time.monotonic()
            if self._display is not None and (now_real >= next_frame or self._plays != plays_before):
                next_frame = now_real + frame_interval_s
                lines = overlay(self.progress()) if overlay else ()
                if not self.present(lines):
                    stopped = True
                    break
            if on_progress and self._clock.monotonic() >= next_progress:
                next_progress += progress_every_s
                on_progress(self.progress())
            self._clock.advance(tick_s)
            if speed > 0:
                lag = (self._clock.monotonic() - sim_start) / speed - (time.monotonic() - real_start)
                if lag > 0:
                    self.stop_requested.wait(lag)
        self.finish()
        # A healthy store commits the tail in well under a second; a failing one will not, so do not hang on it.
        clean = self._store.flush(timeout=30.0 if self._store.health().ok else 2.0)
        health = self._store.health()
        return RunSummary(
            session_id=self.session_id,
            ticks=ticks,
            plays=self._plays,
            sim_seconds=self._clock.monotonic() - sim_start,
            real_seconds=time.monotonic() - real_start,
            stopped_early=stopped,
            store_clean=clean and health.ok,
            store_error=health.error,
        )

    def finish(self) -> None:
        """Close every open row: the visits, the play, the session."""
        t, utc = self._clock.monotonic(), self._clock.utc()
        self._absorb(self._audience.close_all(t, utc))
        self._end_play(t, utc)
        self._session = replace(self._session, last_seen_utc=utc, last_seen_mono=t, ended_utc=utc, status=Status.CLOSED)
        self._store.write(self._session)
