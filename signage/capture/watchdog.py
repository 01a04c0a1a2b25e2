"""The camera supervisor: a reader thread that keeps only the newest frame, and a watchdog state machine that
restarts the camera with backoff when it stalls, errs, returns garbage or vanishes.

States and their named transitions (`TRANSITIONS`); every change is a `CameraEvent`, kept in order until drained
with `events()` (none is ever dropped: transitions are few, paced by the backoff and the restart budget):

    STARTING --first_frame--> LIVE          STARTING --open_failed--> OFFLINE
    STARTING --no_first_frame / bad_reads--> STALLED  (not opened in start_timeout_s, or no frame
                                                      stall_timeout_s after opening)
    LIVE --no_frames / bad_reads--> STALLED
    STALLED --restart--> STARTING           OFFLINE --retry--> STARTING
    STALLED --budget_spent--> OFFLINE       (any) --stop / end_of_stream--> STOPPED

Liveness is judged on `time.monotonic()` from the frames themselves, never from OpenCV's flags: an unplugged camera
can keep `isOpened()` true and hang in `read()`. A hung read is abandoned, not waited for: each (re)start opens a
new reader from the factory on a new thread (a "generation"); a late answer from an old generation is ignored.

The backoff doubles from `restart_initial_s` up to `restart_max_s` and resets after `backoff_reset_s` of healthy
live frames. The restart budget (`restart_budget` restarts of a stalled camera within `restart_window_s`) limits
the churn of a camera that opens and fails again and again; once spent the camera is OFFLINE until the window frees
a slot. Retries to open a camera that is not there are paced by the backoff alone (they cost nothing). It never
gives up for good: a camera plugged back an hour later is picked up, because a screen in a store has nobody to
restart it.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from signage.capture.sources import EndOfStreamError, FrameReader, describe_image
from signage.config import CaptureConfig
from signage.types import Frame

log = logging.getLogger(__name__)

CLOSE_GRACE_S = 1.0  # a reader whose close() hangs longer is abandoned to its daemon thread
ERROR_PAUSE_S = 0.01  # after a failed read, so a reader that fails instantly does not spin a core


class CameraState(enum.StrEnum):
    STARTING = "starting"  # a reader is being opened; no frame from it yet
    LIVE = "live"  # good frames arrive
    STALLED = "stalled"  # opened, but no good frames: it will be restarted
    OFFLINE = "offline"  # cannot be opened (or the restart budget is spent): retried after a wait
    STOPPED = "stopped"  # stopped on request, or a file ended


class Transition(enum.StrEnum):
    FIRST_FRAME = "first_frame"
    OPEN_FAILED = "open_failed"
    NO_FIRST_FRAME = "no_first_frame"
    NO_FRAMES = "no_frames"
    BAD_READS = "bad_reads"
    RESTART = "restart"
    RETRY = "retry"
    BUDGET_SPENT = "budget_spent"
    END_OF_STREAM = "end_of_stream"
    STOP = "stop"


_S = CameraState
_NOT_STOPPED = frozenset(set(CameraState) - {CameraState.STOPPED})
TRANSITIONS: Mapping[Transition, tuple[frozenset[CameraState], CameraState]] = MappingProxyType(
    {
        Transition.FIRST_FRAME: (frozenset({_S.STARTING}), _S.LIVE),
        Transition.OPEN_FAILED: (frozenset({_S.STARTING}), _S.OFFLINE),
        Transition.NO_FIRST_FRAME: (frozenset({_S.STARTING}), _S.STALLED),
        Transition.NO_FRAMES: (frozenset({_S.LIVE}), _S.STALLED),
        Transition.BAD_READS: (frozenset({_S.STARTING, _S.LIVE}), _S.STALLED),
        Transition.RESTART: (frozenset({_S.STALLED}), _S.STARTING),
        Transition.RETRY: (frozenset({_S.OFFLINE}), _S.STARTING),
        Transition.BUDGET_SPENT: (frozenset({_S.STALLED}), _S.OFFLINE),
        Transition.END_OF_STREAM: (frozenset({_S.STARTING, _S.LIVE}), _S.STOPPED),
        Transition.STOP: (_NOT_STOPPED, _S.STOPPED),
    }
)


@dataclass(frozen=True)
class CameraEvent:
    """One state change of the camera; `seq` counts from 1 without gaps, so a consumer can prove none was lost."""

    seq: int
    t_mono: float
    transition: Transition
    previous: CameraState
    state: CameraState
    reason: str
    restarts: int
    frames: int
    drops: int

    @property
    def camera_ok(self) -> bool:
        return self.state is CameraState.LIVE


@dataclass(frozen=True)
class CaptureStats:
    state: CameraState
    frames: int  # good frames handed to the slot
    drops: int  # frames overwritten before anyone took them (live sources)
    bad_reads: int  # failed reads and garbage images, all generations
    restarts: int
    last_frame_mono: float | None


def check_image(image: Any, expected_shape: tuple[int, ...] | None) -> str | None:
    """Why `image` is not a usable frame, or None when it is (uint8, (H, W, 3), non-empty, same shape as before)."""
    if not isinstance(image, np.ndarray):
        return f"garbage frame: {describe_image(image)}"
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        return f"garbage frame: {describe_image(image)}"
    if expected_shape is not None and image.shape != expected_shape:
        return f"frame size changed: {image.shape} after {expected_shape}"
    return None


class _Generation:
    """One opened reader and the thread reading it; shared with the watchdog under the supervisor's lock."""

    def __init__(self, number: int, started: float) -> None:
        self.number = number
        self.started = started
        self.retired = threading.Event()
        self.reader: FrameReader | None = None
        self.opened_at: float | None = None
        self.open_error: str | None = None
        self.ended = False
        self.first_frame = False
        self.shape: tuple[int, ...] | None = None
        self.last_progress = started
        self.bad_in_a_row = 0
        self.last_problem = ""


class CameraSupervisor:
    """Runs a camera (any `FrameReader` factory) and keeps it alive; `latest()` gives the newest frame.

    For live sources the newest frame wins: a frame nobody took before the next one arrived is dropped and counted.
    With `lossless=True` (a file read as fast as possible) the reader waits for the consumer instead.
    """

    def __init__(
        self,
        *,
        factory: Callable[[], FrameReader],
        config: CaptureConfig,
        lossless: bool = False,
        on_event: Callable[[CameraEvent], None] | None = None,
        name: str = "camera",
    ) -> None:
        self._factory = factory
        self._config = config
        self._lossless = lossless
        self._on_event = on_event
        self._name = name
        self._lock = threading.Lock()
        self._frame_ready = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._state = CameraState.STARTING
        self._events: list[CameraEvent] = []
        self._seq = 0
        self._generation: _Generation | None = None
        self._generations = 0
        self._latest: Frame | None = None
        self._taken = True
        self._index = 0
        self._drops = 0
        self._bad_reads = 0
        self._restarts = 0
        self._restart_times: collections.deque[float] = collections.deque()
        self._failures_in_a_row = 0
        self._budget_spent = False
        self._live_since: float | None = None
        self._recent: collections.deque[Transition] = collections.deque(maxlen=2)
        self._last_frame_mono: float | None = None
        self._monitor: threading.Thread | None = None

    # -- public -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._monitor is not None:
            raise RuntimeError("CameraSupervisor.start: already started")
        self._monitor = threading.Thread(target=self._watch, name=f"{self._name}-watchdog", daemon=True)
        self._monitor.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading and release the camera; idempotent."""
        self._stop.set()
        self._wake.set()
        with self._frame_ready:
            self._frame_ready.notify_all()
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(timeout_s)

    def __enter__(self) -> CameraSupervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def state(self) -> CameraState:
        with self._lock:
            return self._state

    def latest(self, timeout_s: float = 0.0) -> Frame | None:
        """The newest frame not returned before, waiting up to `timeout_s` for one; None if none came."""
        deadline = time.monotonic() + timeout_s
        with self._frame_ready:
            while self._taken:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._frame_ready.wait(remaining)
            self._taken = True
            self._frame_ready.notify_all()  # a lossless reader waits for this
            return self._latest

    def events(self) -> tuple[CameraEvent, ...]:
        """Every state change since the last call, oldest first."""
        with self._lock:
            drained, self._events = tuple(self._events), []
        return drained

    def stats(self) -> CaptureStats:
        with self._lock:
            return CaptureStats(
                state=self._state,
                frames=self._index,
                drops=self._drops,
                bad_reads=self._bad_reads,
                restarts=self._restarts,
                last_frame_mono=self._last_frame_mono,
            )

    # -- the watchdog ---------------------------------------------------------------------------------------------
    def _watch(self) -> None:
        self._open_generation()
        while not self._stop.is_set():
            self._wake.wait(self._config.poll_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            state = self.state
            if state in (CameraState.STARTING, CameraState.LIVE):
                self._judge(state)
            elif state is CameraState.STALLED:
                self._retire_generation()
                if not self._budget_left():
                    continue
                self._wait_backoff()
                if not self._stop.is_set():
                    self._restart(Transition.RESTART)
            elif state is CameraState.OFFLINE:
                self._retire_generation()
                self._wait_budget()
                if not self._budget_spent:  # after budget_spent, the wait for the window was the pause
                    self._wait_backoff()
                self._budget_spent = False
                if not self._stop.is_set():
                    self._restart(Transition.RETRY)
            else:  # STOPPED (a file ended)
                break
        self._retire_generation()
        if self.state is not CameraState.STOPPED:
            self._change(Transition.STOP, "stopped on request")

    def _judge(self, state: CameraState) -> None:
        now = time.monotonic()
        config = self._config
        with self._lock:
            gen = self._generation
            assert gen is not None
            open_error, ended, first, progress = gen.open_error, gen.ended, gen.first_frame, gen.last_progress
            opened = gen.opened_at
            bad, problem = gen.bad_in_a_row, gen.last_problem
        if ended:
            self._change(Transition.END_OF_STREAM, "the video file ended")
        elif state is CameraState.STARTING and open_error is not None:
            self._failures_in_a_row += 1
            self._change(Transition.OPEN_FAILED, open_error)
        elif bad >= config.bad_reads_to_stall:
            self._failures_in_a_row += 1
            self._change(Transition.BAD_READS, f"{bad} bad reads in a row; last: {problem}")
        elif state is CameraState.STARTING and first:
            self._live_since = now
            self._change(Transition.FIRST_FRAME, f"frames arrive (reader {gen.number})")
        elif state is CameraState.STARTING and opened is None and now - gen.started > config.start_timeout_s:
            self._failures_in_a_row += 1
            self._change(Transition.NO_FIRST_FRAME, f"the source did not open within {config.start_timeout_s:g} s")
        elif state is CameraState.STARTING and opened is not None and now - opened > config.stall_timeout_s:
            self._failures_in_a_row += 1
            self._change(Transition.NO_FIRST_FRAME, f"opened, but no frame within {config.stall_timeout_s:g} s")
        elif state is CameraState.LIVE and now - progress > config.stall_timeout_s:
            self._failures_in_a_row += 1
            self._change(Transition.NO_FRAMES, f"no good frame for {now - progress:.1f} s")
        elif (
            state is CameraState.LIVE
            and self._live_since is not None
            and self._failures_in_a_row
            and now - self._live_since >= config.backoff_reset_s
        ):
            self._failures_in_a_row = 0

    def _budget_left(self) -> bool:
        now = time.monotonic()
        window = self._config.restart_window_s
        while self._restart_times and now - self._restart_times[0] > window:
            self._restart_times.popleft()
        if len(self._restart_times) < self._config.restart_budget:
            return True
        next_slot = self._restart_times[0] + window - now
        self._budget_spent = True
        self._change(
            Transition.BUDGET_SPENT,
            f"{len(self._restart_times)} restarts within {window:g} s; next try in {next_slot:.0f} s",
        )
        return False

    def _wait_budget(self) -> None:
        window = self._config.restart_window_s
        while (
            not self._stop.is_set() and len(self._restart_times) >= self._config.restart_budget and self._restart_times
        ):
            wait = self._restart_times[0] + window - time.monotonic()
            if wait <= 0:
                self._restart_times.popleft()
            else:
                self._stop.wait(wait)

    def _wait_backoff(self) -> None:
        config = self._config
        exponent = max(0, self._failures_in_a_row - 1)
        delay = min(config.restart_initial_s * 2.0 ** min(exponent, 30), config.restart_max_s)
        self._stop.wait(delay)

    def _restart(self, transition: Transition) -> None:
        self._restarts += 1
        if transition is Transition.RESTART:  # the budget limits restarts of a flapping camera, not retries to open
            self._restart_times.append(time.monotonic())
        self._change(transition, f"restart {self._restarts}")
        self._open_generation()

    def _change(self, transition: Transition, reason: str) -> None:
        sources, target = TRANSITIONS[transition]
        with self._lock:
            previous = self._state
            if previous not in sources:
                raise RuntimeError(f"camera: transition {transition} not allowed from {previous}")
            self._state = target
            self._seq += 1
            event = CameraEvent(
                seq=self._seq,
                t_mono=time.monotonic(),
                transition=transition,
                previous=previous,
                state=target,
                reason=reason,
                restarts=self._restarts,
                frames=self._index,
                drops=self._drops,
            )
            self._events.append(event)
        # Quiet logs: a camera cycling offline -> starting -> offline says so once, not every retry.
        repeat = len(self._recent) == 2 and self._recent[0] is transition
        self._recent.append(transition)
        if repeat:
            level = logging.DEBUG
        elif target in (CameraState.STALLED, CameraState.OFFLINE):
            level = logging.WARNING
        else:
            level = logging.INFO
        log.log(level, "%s: %s -> %s (%s): %s", self._name, previous, target, transition, reason)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a listener's bug must not kill the watchdog
                log.exception("%s: camera event listener failed", self._name)

    # -- generations of readers ----------------------------------------------------------------------------------
    def _open_generation(self) -> None:
        self._generations += 1
        gen = _Generation(self._generations, time.monotonic())
        with self._lock:
            self._generation = gen
        thread = threading.Thread(target=self._read, args=(gen,), name=f"{self._name}-reader-{gen.number}", daemon=True)
        thread.start()

    def _retire_generation(self) -> None:
        with self._lock:
            gen = self._generation
            if gen is None or gen.retired.is_set():
                return
            gen.retired.set()
            reader = gen.reader
            self._frame_ready.notify_all()
        if reader is not None:
            _close_quietly(reader, self._name)

    def _read(self, gen: _Generation) -> None:
        try:
            reader = self._factory()
        except Exception as error:
            with self._lock:
                gen.open_error = f"{type(error).__name__}: {error}"
            self._wake.set()
            return
        with self._lock:
            gen.reader = reader
            gen.opened_at = time.monotonic()
            retired = gen.retired.is_set()
        if retired:  # the watchdog gave up on this generation while it was opening
            _close_quietly(reader, self._name)
            return
        while not gen.retired.is_set():
            try:
                image = reader.read()
            except EndOfStreamError:
                with self._lock:
                    gen.ended = True
                self._wake.set()
                return
            except Exception as error:
                self._bad_read(gen, f"read error: {type(error).__name__}: {error}")
                continue
            if gen.retired.is_set():
                return
            with self._lock:
                problem = check_image(image, gen.shape)
            if problem is not None:
                self._bad_read(gen, problem)
                continue
            self._publish(gen, image)

    def _bad_read(self, gen: _Generation, problem: str) -> None:
        with self._lock:
            if gen.retired.is_set():
                return
            gen.bad_in_a_row += 1
            gen.last_problem = problem
            self._bad_reads += 1
            wake = gen.bad_in_a_row >= self._config.bad_reads_to_stall
        if wake:
            self._wake.set()
        gen.retired.wait(ERROR_PAUSE_S)

    def _publish(self, gen: _Generation, image: Any) -> None:
        t = time.monotonic()
        image.setflags(write=False)  # frames are shared values: nobody draws on them
        with self._frame_ready:
            if gen.retired.is_set():
                return
            if self._lossless:
                while not self._taken and not gen.retired.is_set() and not self._stop.is_set():
                    self._frame_ready.wait(self._config.poll_interval_s)
                    gen.last_progress = time.monotonic()  # waiting on the consumer is not a stall
                if gen.retired.is_set() or self._stop.is_set():
                    return
            elif not self._taken:
                self._drops += 1
            self._latest = Frame(image=image, t_mono=t, index=self._index)
            self._index += 1
            self._taken = False
            self._last_frame_mono = t
            gen.last_progress = t
            gen.bad_in_a_row = 0
            if gen.shape is None:
                gen.shape = image.shape
                gen.first_frame = True
                first = True
            else:
                first = False
            self._frame_ready.notify_all()
        if first:
            self._wake.set()


def _close_quietly(reader: FrameReader, name: str) -> None:
    """Close a reader without letting a hung driver hang the watchdog: close on a helper thread, wait a little."""

    def close() -> None:
        try:
            reader.close()
        except Exception:
            log.debug("%s: closing a failed reader raised", name, exc_info=True)

    closer = threading.Thread(target=close, name=f"{name}-close", daemon=True)
    closer.start()
    closer.join(CLOSE_GRACE_S)
