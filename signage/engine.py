"""The engine: the only place where the stages are wired together.

Each tick: read one observation from the source (camera pipeline or virtual store) while the current item is on
screen, fold it into the audience, log every record through the store, hand the rewards of closed exposures back to
the policy, and, when the item's time is up (or it must be cut), decide the next item and hand it to the screen.

Plays come from the screen, to the frame: a play opens on the frame where the item first appeared and closes on the
first frame without it (for a cut, the frame where the next item appeared), so the log holds what was really shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from signage import __version__
from signage.audience import AudienceStage, AudienceUpdate
from signage.clock import Clock, SimClock
from signage.config import Config, config_digest
from signage.content import ContentPool
from signage.content_watch import PoolUpdate, PoolWatcher
from signage.decision import Decider, build_context
from signage.decision.context import for_viewer, loggable
from signage.decision.history import RULE
from signage.decision.interactive import RETURN_TRIGGER, DetailMoveKind, DetailSession, DetailState
from signage.decision.interactive import TRIGGER as INTERACTIVE_TRIGGER
from signage.decision.persistence import SnapshotSaver
from signage.decision.policies import build_policy
from signage.decision.reward import exposure_reward
from signage.ids import new_id
from signage.player.events import FrameReport, PlayerState, PlayEvent, PlayEventKind, Urgency
from signage.records import (
    DecisionRecord,
    EventKind,
    EventRecord,
    ExposureRecord,
    Phase,
    PlayRecord,
    Record,
    SessionRecord,
    Status,
    ViewerRecord,
)
from signage.store import StoreHealth, StoreWriter
from signage.types import Attributes, AudienceSnapshot, ContentItem, Context, Observation

log = logging.getLogger("signage.engine")

HEARTBEAT_S = 10.0  # how often the session row records that the engine is alive (crash recovery closes there)
ARRIVAL_TRIGGER = "preempt"  # a decision made because someone arrived while the item had been chosen for nobody


class ObservationSource(Protocol):
    """Where the audience comes from: the camera pipeline or the virtual store."""

    def step(self, t_mono: float, t_utc: datetime, showing: ContentItem | None) -> Observation: ...


@runtime_checkable
class RecordSource(Protocol):
    """A source with rows of its own to log (the camera's state changes): drained every tick, and at the end with
    `closing=True` so that it can close what it left open."""

    def drain_records(self, session_id: str, *, closing: bool = False) -> tuple[Record, ...]: ...


@runtime_checkable
class PlayListener(Protocol):
    """A source that wants to know when each play starts (the camera pipeline measures reactions around it)."""

    def play_started(self, t_mono: float) -> None: ...


class Screen(Protocol):
    """What shows the content: the gapless pygame player, or `InstantScreen` when there is no display."""

    def show(self, item: ContentItem, *, decision_id: str, urgency: Urgency = Urgency.NEXT) -> None: ...

    def present(self, now: float, overlay_lines: Sequence[str] = ()) -> FrameReport: ...

    def wait_ready(self, item: ContentItem, timeout_s: float) -> bool: ...

    def close(self) -> tuple[PlayEvent, ...]: ...


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
    frames: int = 0  # frames presented (live runs)
    max_frame_gap_s: float = 0.0  # the longest time between two presented frames (live runs)


@dataclass(frozen=True)
class _Queued:
    """A decision handed to the screen whose item has not appeared yet."""

    decision_id: str
    item: ContentItem
    measured: bool
    urgency: Urgency


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        source: ObservationSource,
        pool: ContentPool,
        decider: Decider,
        store: StoreWriter,
        clock: Clock,
        screen: Screen,
        mode: str = "demo",
        model_versions: str = "sim-1",
        snapshots: SnapshotSaver | None = None,
        pool_watcher: PoolWatcher | None = None,
    ) -> None:
        self._config = config
        self._source = source
        # Checked once: a runtime Protocol check per tick costs more than the rest of a simulated tick's logging.
        self._record_source = source if isinstance(source, RecordSource) else None
        self._play_listener = source if isinstance(source, PlayListener) else None
        self._pool = pool
        self._decider = decider
        self._store = store
        self._clock = clock
        self._screen = screen
        self._snapshots = snapshots  # where the learned state is saved now and then, and at the end
        self._pool_watcher = pool_watcher  # the content pool reloaded when its files change
        self._open_items: dict[str, ContentItem] = {}  # decision id → item on screen (even if since removed)
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
        self._queued: dict[str, _Queued] = {}  # decision id → what the screen has been asked to show
        self._open_plays: dict[str, PlayRecord] = {}  # decision id → play on screen (two during a crossfade)
        self._play: PlayRecord | None = None  # the newest play on screen
        # The play exposures attach to: the newest play, until a decision closed its exposures early (`_decide`);
        # then none until the next item starts, so one viewer's watch of one item is never learned in two pieces.
        self._measured_play: PlayRecord | None = None
        self._play_item: ContentItem | None = None
        self._play_ends_mono = 0.0
        self._screen_state = PlayerState.IDLE
        self._detail = DetailSession(lost_after_s=2.0)  # opens an item's detail page for a reader, and returns
        self._snapshot = AudienceSnapshot(t_mono=clock.monotonic(), t_utc=clock.utc(), viewers=())
        self._contexts: OrderedDict[str, Context] = OrderedDict()  # decision id → context, for learning
        self._bands: dict[str, Attributes] = {}  # viewer id → their latest bands, to learn each reward per viewer
        self._own_memory: dict[str, Mapping[str, Mapping[str, float]]] = {}  # decision id → Choice.own_memory
        self._durations: OrderedDict[str, float] = OrderedDict()  # decision id → its item's length, for rewards
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
        self._drain_source()
        self._absorb(self._audience.update(observation, self._measured_play))
        move = (
            None
            if self._queued
            else self._detail.update(self._snapshot, self._play_item, self._pool, allowed=self._allowed)
        )
        if move is not None and move.kind is DetailMoveKind.OPEN and move.item is not None:
            self._open_detail(move.item, move.reason, t, utc)
        elif move is not None:  # attention on the detail page was lost: back to the rotation now
            self._decide(t, utc, trigger=RETURN_TRIGGER, urgency=Urgency.NEXT)
        elif not self._queued and (self._play is None or t >= self._play_ends_mono):
            self._decide(t, utc, trigger="item_end", urgency=Urgency.NEXT)
        elif self._must_cut():
            # Someone who may be a minor just came into view (or the camera went out): cut the item now.
            self._decide(t, utc, trigger="restricted_preempt", urgency=Urgency.IMMEDIATE)
        elif self._arrival_preempt_due():
            # The item on screen was chosen for an empty aisle and someone just came: choose for them. The item
            # keeps its minimum display time and stays measured until the new one starts.
            self._decide(t, utc, trigger=ARRIVAL_TRIGGER, urgency=Urgency.PREEMPT, close_exposures=False)
        if self._snapshots is not None:
            if self._snapshots.reset_requested(t_mono=t):
                self._reset_policy(self._snapshots)
            self._snapshots.maybe_save(self._decider.policy, t_mono=t)
        if self._pool_watcher is not None:
            update = self._pool_watcher.poll(time.monotonic())  # real time: files change in real time
            if update is not None:
                self._apply_pool(update)
        if t >= self._next_heartbeat:
            self._next_heartbeat = t + HEARTBEAT_S
            self._session = replace(self._session, last_seen_utc=utc, last_seen_mono=t)
            self._store.write(self._session)

    def _reset_policy(self, snapshots: SnapshotSaver) -> None:
        """An operator reset the learned state (`signage policy reset`) while the engine runs: learn from scratch
        from now on, and save the fresh state at once so no periodic save writes the old one back."""
        decision = self._config.decision
        fresh = build_policy(decision.policy, items=self._pool.rotation, config=decision)
        if fresh.name != self._decider.policy.name:
            log.warning("policy reset requested, but the engine runs %s: left as it is", self._decider.policy.name)
            return
        self._decider.policy = fresh
        snapshots.reset(fresh)
        log.warning("policy %s reset by the operator: it learns from scratch from now on", fresh.name)

    def _drain_source(self, *, closing: bool = False) -> None:
        if self._record_source is not None:
            for record in self._record_source.drain_records(self.session_id, closing=closing):
                self._store.write(record)

    def _must_cut(self) -> bool:
        unsafe = self._snapshot.minor_possible or not self._snapshot.camera_ok
        if not unsafe:
            return False
        restricted = self._decider.rules.is_restricted
        if any(q.urgency is Urgency.IMMEDIATE and not restricted(q.item) for q in self._queued.values()):
            return False  # a safe cut is already on its way
        on_screen = list(self._open_items.values())
        queued = [q.item for q in self._queued.values()]
        # Cut what is on screen, and replace a queued restricted item before it appears.
        return any(restricted(item) for item in on_screen + queued)

    def _arrival_preempt_due(self) -> bool:
        if not self._config.player.preempt_on_arrival or self._queued or self._play is None:
            return False
        if not self._snapshot.viewers or not self._snapshot.camera_ok:
            return False
        if self._detail.state is not DetailState.ROTATION:
            return False
        context = self._contexts.get(self._play.decision_id)
        return context is not None and context.n_present == 0

    def _apply_pool(self, update: PoolUpdate) -> None:
        """Hot reload: decide from the new pool from now on; what is on screen plays out. A pool the rules reject
        (e.g. the fallback item removed) is not taken, and says why."""
        try:
            self._decider.set_items(
                update.pool.rotation, item_rules=update.pool.item_rules, detail_items=update.pool.detail_items
            )
        except ValueError as exc:  # RulesError is a ValueError
            log.error("content: the reloaded pool is not used: %s", exc)
            return
        self._pool = update.pool
        log.info("content: pool reloaded (%d items, %d quarantined)", len(update.pool), len(update.quarantined))

    def _allowed(self, item: ContentItem) -> bool:
        """Whether a detail page may open now: the operator's rules hold for interactive content too (kill switches,
        blocked categories, restricted content, schedules)."""
        refusal = self._decider.detail_refusal(item, self._snapshot)
        if refusal is not None:
            log.debug("detail page %s not opened: %s", item.item_id, refusal)
        return refusal is None

    def _open_detail(self, item: ContentItem, reason: str, t: float, utc: datetime) -> None:
        """A viewer reads the item on screen: show its detail page. It is a rule, not the policy's choice: logged with
        propensity 1 and the detail page as the only eligible item. The item on screen stays measured until the page
        starts (it keeps its minimum display time); the page's exposures teach the policy like any other's, so
        whether detail pages hold attention is learned."""
        context = build_context(self._snapshot, self._config.screen.timezone)
        decision = DecisionRecord(
            decision_id=new_id(),
            session_id=self.session_id,
            t_utc=utc,
            t_mono=t,
            context=loggable(context),
            eligible=(item.item_id,),
            item_id=item.item_id,
            propensity=1.0,
            policy="interactive",
            policy_version="1",
            reason=reason,
            arm=RULE,
            trigger=INTERACTIVE_TRIGGER,
            learner_eligible=(item.item_id,),
        )
        self._store.write(decision)
        self._remember(decision.decision_id, context, {})  # each viewer's reward is learned with their own bands
        self._queued[decision.decision_id] = _Queued(
            decision.decision_id, item, self._snapshot.camera_ok, Urgency.PREEMPT
        )
        self._screen.show(item, decision_id=decision.decision_id, urgency=Urgency.PREEMPT)

    def _rewarded(self, record: ExposureRecord) -> ExposureRecord:
        """A closed exposure with the reward the operator chose (`[decision] reward`; the audience stage measures
        attention seconds)."""
        kind = self._config.decision.reward
        if kind == "attention_s" or record.reward is None:
            return record
        duration = self._durations.get(record.decision_id)
        if duration is None:  # not expected: every measured play started here
            duration = self._pool.item(record.item_id).duration_s if record.item_id in self._pool.ids else 0.0
        reward = exposure_reward(kind, attention_s=record.attention_s, held=record.held, item_duration_s=duration)
        return replace(record, reward=reward)

    def _remember(self, decision_id: str, context: Context, own_memory: Mapping[str, Mapping[str, float]]) -> None:
        """Keep a decision's context until its exposures close, to teach the policy their rewards."""
        self._contexts[decision_id] = context
        self._own_memory[decision_id] = own_memory
        while len(self._contexts) > 256:
            gone, _ = self._contexts.popitem(last=False)
            self._own_memory.pop(gone, None)

    def _absorb(self, update: AudienceUpdate) -> None:
        """Log the audience's records and hand each closed exposure's reward to the policy that caused it."""
        self._snapshot = update.snapshot
        for viewer in update.snapshot.viewers:
            self._bands[viewer.viewer_id] = viewer.attributes
        while len(self._bands) > 10_000:  # viewers long gone: their exposures closed when they left
            del self._bands[next(iter(self._bands))]
        records = [self._rewarded(r) if isinstance(r, ExposureRecord) else r for r in update.records]
        rewarded = {r.exposure_id: r for r in records if isinstance(r, ExposureRecord)}
        for record in records:
            self._store.write(record)
            if isinstance(record, ViewerRecord) and record.status is Status.CLOSED:
                self._passers_by += record.is_passer_by
                self._watchers += record.is_watcher
        # The closed exposures are among the records: each reward is worked out once.
        for exposure in (rewarded.get(e.exposure_id) or self._rewarded(e) for e in update.closed_exposures):
            self._decider.watched(
                exposure.viewer_id,
                exposure.item_id,
                attention_s=exposure.attention_s,
                t_utc=exposure.ended_utc or update.snapshot.t_utc,
            )
            context = self._contexts.get(exposure.decision_id)
            if context is not None and exposure.reward is not None:
                bands = self._bands.get(exposure.viewer_id)
                memory = self._own_memory.get(exposure.decision_id, {}).get(exposure.viewer_id)
                learned = for_viewer(context, bands, memory) if bands is not None else context
                self._decider.policy.learn(learned, exposure.item_id, exposure.reward)

    def _decide(self, t: float, utc: datetime, *, trigger: str, urgency: Urgency, close_exposures: bool = True) -> None:
        """Decide the next item and queue it on the screen.

        The exposures of the item whose time is up close first, so the decision already knows (and the policy has
        learned) what the people in front of the screen just watched. An item that stays on screen a while longer
        (`close_exposures=False`) is measured until the next one starts."""
        if close_exposures:
            self._absorb(self._audience.switch_play(None, t, utc))
            self._measured_play = None  # until the next item starts: no second exposure on this one
        choice = self._decider.decide(self._snapshot)
        policy = self._decider.policy
        decision = DecisionRecord(
            decision_id=new_id(),
            session_id=self.session_id,
            t_utc=utc,
            t_mono=t,
            context=loggable(choice.context),
            eligible=choice.eligible,
            item_id=choice.decision.item_id,
            propensity=choice.decision.propensity,
            policy=policy.name,
            policy_version=policy.version,
            reason=choice.decision.reason,
            arm=choice.arm,
            trigger=trigger,
            learner_eligible=choice.learner_eligible or choice.eligible,
        )
        self._remember(decision.decision_id, choice.context, choice.own_memory)
        item = self._pool.item(decision.item_id)
        self._store.write(decision)
        self._queued[decision.decision_id] = _Queued(decision.decision_id, item, self._snapshot.camera_ok, urgency)
        self._screen.show(item, decision_id=decision.decision_id, urgency=urgency)

    # -- what the screen reports ------------------------------------------------------------------------------------
    def present(self, overlay_lines: Sequence[str] = ()) -> bool:
        """Present one frame and log what started and ended on it; False when the window was asked to close."""
        report = self._screen.present(self._clock.monotonic(), overlay_lines)
        self._screen_state = report.state
        for event in report.events:
            self._on_play_event(event, report.t_mono)
        return not report.quit_requested

    @property
    def needs_frame(self) -> bool:
        """A frame is due regardless of the frame rate: an item is waiting to appear, or a transition runs."""
        return bool(self._queued) or self._screen_state is PlayerState.TRANSITIONING

    def _utc_at(self, t_mono: float) -> datetime:
        return self._clock.utc() - timedelta(seconds=self._clock.monotonic() - t_mono)

    def _on_play_event(self, event: PlayEvent, frame_t: float) -> None:
        if event.kind is PlayEventKind.STARTED:
            queued = self._queued.pop(event.decision_id)
            play = PlayRecord(
                play_id=new_id(),
                session_id=self.session_id,
                decision_id=event.decision_id,
                item_id=event.item_id,
                started_utc=self._utc_at(event.t_mono),
                started_mono=event.t_mono,
                measured=queued.measured,
                started_frame=event.frame,
                fallback=event.fallback_reason,
            )
            self._store.write(play)
            self._open_plays[event.decision_id] = play
            self._open_items[event.decision_id] = queued.item
            if event.fallback_reason and self._pool_watcher is not None:
                self._pool_watcher.quarantine(event.item_id, event.fallback_reason)
            self._play, self._play_item = play, queued.item
            self._durations[event.decision_id] = queued.item.duration_s
            while len(self._durations) > 1024:  # plays long over: their exposures closed when they ended
                self._durations.popitem(last=False)
            self._measured_play = play
            self._play_ends_mono = event.t_mono + queued.item.duration_s
            self._plays += 1
            if self._play_listener is not None:
                self._play_listener.play_started(event.t_mono)
            self._absorb(self._audience.switch_play(play, event.t_mono, play.started_utc))
        elif event.kind is PlayEventKind.ENDED:
            # The item was visible until this frame replaced it: that is when the play ends.
            self._end_play(event.decision_id, frame_t, last_frame=event.frame)
        else:  # SKIPPED: replaced before it ever reached the screen; the decision stays, with no play
            skipped = self._queued.pop(event.decision_id)
            self._store.write(
                EventRecord(
                    event_id=new_id(),
                    session_id=self.session_id,
                    kind=EventKind.PLAY,
                    phase=Phase.END,
                    subject_id=event.decision_id,
                    t_utc=self._utc_at(frame_t),
                    t_mono=frame_t,
                    payload={"skipped": True, "item_id": skipped.item.item_id},
                )
            )

    def _end_play(self, decision_id: str, t: float, *, last_frame: int | None = None) -> None:
        play = self._open_plays.pop(decision_id, None)
        self._open_items.pop(decision_id, None)
        if play is None:
            return
        t = max(t, play.started_mono)
        utc = self._utc_at(t)
        self._store.write(replace(play, ended_utc=utc, ended_mono=t, ended_frame=last_frame, status=Status.CLOSED))
        self._decider.played(play.item_id, play.started_utc, utc)
        if self._play is play:
            self._play = None
        if self._measured_play is play:
            self._measured_play = None

    def progress(self) -> Progress:
        return Progress(
            t_utc=self._clock.utc(),
            sim_elapsed_s=self._clock.monotonic() - self._session.started_mono,
            plays=self._plays,
            viewers_present=len(self._snapshot.viewers),
            passers_by=self._passers_by,
            watchers=self._watchers,
            showing=self._play_item.item_id if self._play_item else "-",
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
        possible). A frame is presented at most every `frame_interval_s` of real time, and always when the screen
        needs one (an item waiting to appear, a transition running)."""
        clock = self._clock
        if not isinstance(clock, SimClock):
            raise TypeError("Engine.run_simulated needs a SimClock (use run_live on the system clock)")
        self._store.write(self._session)
        real_start = time.monotonic()
        sim_start = self._clock.monotonic()
        next_progress = sim_start + progress_every_s
        next_frame = 0.0
        ticks = 0
        stopped = False
        try:
            for _ in range(round(duration_s / tick_s)):
                if self.stop_requested.is_set():
                    stopped = True
                    break
                self.tick()
                ticks += 1
                for queued in list(self._queued.values()):
                    # Simulated time must not run ahead while a file loads in real time: wait for it here.
                    self._screen.wait_ready(queued.item, timeout_s=10.0)
                now_real = time.monotonic()
                if self.needs_frame or now_real >= next_frame:
                    next_frame = now_real + frame_interval_s
                    lines = overlay(self.progress()) if overlay else ()
                    if not self.present(lines):
                        stopped = True
                        break
                if on_progress and self._clock.monotonic() >= next_progress:
                    next_progress += progress_every_s
                    on_progress(self.progress())
                clock.advance(tick_s)
                if speed > 0:
                    lag = (self._clock.monotonic() - sim_start) / speed - (time.monotonic() - real_start)
                    if lag > 0:
                        self.stop_requested.wait(lag)
        except BaseException:
            self._finish_after_failure()
            raise
        self.finish()
        clean, error = self._flush_store()
        return RunSummary(
            session_id=self.session_id,
            ticks=ticks,
            plays=self._plays,
            sim_seconds=self._clock.monotonic() - sim_start,
            real_seconds=time.monotonic() - real_start,
            stopped_early=stopped,
            store_clean=clean,
            store_error=error,
        )

    def _flush_store(self) -> tuple[bool, str | None]:
        # A healthy store commits the tail in well under a second; a failing one will not, so do not hang on it.
        clean = self._store.flush(timeout=30.0 if self._store.health().ok else 2.0)
        health = self._store.health()
        return clean and health.ok, health.error

    # -- a whole run in real time --------------------------------------------------------------------------------
    def run_live(
        self,
        duration_s: float | None,
        *,
        tick_s: float,
        frame_interval_s: float,
        stop_when: Callable[[], bool] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every_s: float = 60.0,
        overlay: Callable[[Progress], Sequence[str]] | None = None,
    ) -> RunSummary:
        """Run on the engine's clock (the system clock) until `duration_s` passed (None: no limit), `stop_when()`
        is true (a video file ended), the window is closed or `stop_requested` is set (Ctrl-C).

        A tick (one observation, maybe a decision) every `tick_s`, the perception rate; a frame every
        `frame_interval_s`, the display rate, whatever perception does (the source perceives on its own thread).
        Ticks that fall behind are dropped, never bunched up."""
        clock = self._clock
        self._store.write(self._session)
        start = clock.monotonic()
        real_start = time.monotonic()
        next_tick = next_frame = start
        next_progress = start + progress_every_s
        last_frame: float | None = None
        frames = ticks = 0
        max_gap = 0.0
        stopped = False
        try:
            while True:
                if self.stop_requested.is_set():
                    stopped = True
                    break
                now = clock.monotonic()
                if (duration_s is not None and now - start >= duration_s) or (stop_when is not None and stop_when()):
                    break
                if now >= next_tick:
                    self.tick()
                    ticks += 1
                    next_tick = max(next_tick + tick_s, now)
                now = clock.monotonic()
                if now >= next_frame:
                    lines = overlay(self.progress()) if overlay else ()
                    if not self.present(lines):
                        stopped = True
                        break
                    presented = clock.monotonic()
                    if last_frame is not None:
                        max_gap = max(max_gap, presented - last_frame)
                    last_frame = presented
                    frames += 1
                    next_frame = max(next_frame + frame_interval_s, now)
                if on_progress and clock.monotonic() >= next_progress:
                    next_progress += progress_every_s
                    on_progress(self.progress())
                wait = min(next_tick, next_frame) - clock.monotonic()
                if wait > 0:
                    self.stop_requested.wait(wait)
        except BaseException:
            self._finish_after_failure()
            raise
        self.finish()
        clean, error = self._flush_store()
        return RunSummary(
            session_id=self.session_id,
            ticks=ticks,
            plays=self._plays,
            sim_seconds=clock.monotonic() - start,
            real_seconds=time.monotonic() - real_start,
            stopped_early=stopped,
            store_clean=clean,
            store_error=error,
            frames=frames,
            max_frame_gap_s=max_gap,
        )

    def _finish_after_failure(self) -> None:
        """The run loop failed: still close what is open and save what was learned, as far as that goes, so the
        failure that is raised next loses as little as it can."""
        try:
            self.finish()
        except Exception:
            log.exception("engine: finishing after a failure failed too")

    def finish(self) -> None:
        """Close every open row: the visits, the plays on screen, the session."""
        t, utc = self._clock.monotonic(), self._clock.utc()
        self._drain_source(closing=True)
        self._absorb(self._audience.close_all(t, utc))
        for event in self._screen.close():
            if event.kind is PlayEventKind.ENDED:
                self._end_play(event.decision_id, t, last_frame=event.frame)
        for decision_id in list(self._open_plays):
            self._end_play(decision_id, t)
        if self._snapshots is not None:
            self._snapshots.save(self._decider.policy)
        self._session = replace(self._session, last_seen_utc=utc, last_seen_mono=t, ended_utc=utc, status=Status.CLOSED)
        self._store.write(self._session)
