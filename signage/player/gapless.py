"""The gapless player: items queued by the engine reach the screen through cut, crossfade or slide transitions,
never through a black or partial frame, and every first and last frame of an item is reported.

The engine drives it from the main thread with two calls:

- `show(item, decision_id=..., transition=None, urgency=Urgency.NEXT)` queues the next item (and starts loading it
  in a background thread if `preload()` did not already). It returns at once; nothing is drawn.
- `present(now)` draws and flips one frame for the monotonic time `now` and returns a `FrameReport`: the frame's
  index and time, and the `PlayEvent`s (STARTED, ENDED, SKIPPED) it produced, which the engine logs as proof of play
  (a play row opens at its STARTED event and closes at its ENDED event).

Rules, chosen to match what a screen owner expects:
- The queued item replaces the current one at the first `present()` at which it is loaded (a preloaded item: the
  very next frame) and its urgency allows: NEXT at once, PREEMPT only after the current item was on screen
  `min_display_s`, IMMEDIATE at once as a cut, even through a running transition (it waits for its own load if
  need be, since restricted content must leave the screen now).
- A running crossfade or slide is finished before a NEXT or PREEMPT item takes over. A newer `show()` replaces a
  queued item that has not reached the screen yet; that one is reported SKIPPED.
- Nothing queued: the current item stays (a video loops or holds its last frame). The screen never goes blank.
- An item whose file cannot be shown gets its title card instead, with one warning in the log per file version;
  its STARTED event carries `fallback_reason` so the engine can quarantine it.
- An item's play starts at the first frame on which any of it is visible and ends at the last such frame, so in a
  crossfade the two plays overlap by the transition's frames: both were really on screen.

Pacing is the caller's job: `present` draws once and returns; its `draw_s` says how long that took.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np
import pygame

from signage.config.player import PlayerConfig
from signage.player.cards import FontCache, draw_overlay, render_card
from signage.player.decoder import DisplayLayout, VideoStream
from signage.player.events import (
    FrameReport,
    PlayerState,
    PlayEvent,
    PlayEventKind,
    StateChange,
    Transition,
    Urgency,
)
from signage.player.fitting import LETTERBOX_COLOR, FitMode, RGBArray
from signage.player.media import MediaError, load_still
from signage.player.pacing import FrameRateMeter
from signage.player.state import Move, PlayerStateMachine
from signage.types import ContentItem, ContentKind

__all__ = ["GaplessPlayer", "NowShowing"]

log = logging.getLogger("signage.player")

_QUIT_KEYS = frozenset({pygame.K_ESCAPE, pygame.K_q})
_OVERLAY_KEY = pygame.K_o
_PREPARED_VIDEOS_MAX = 4  # preloaded video playbacks waiting for their show(); each holds an open decoder

FileKey = tuple[ContentItem, int, int]  # the item and its file's mtime_ns and size: a changed file is reloaded


def _file_key(item: ContentItem) -> FileKey:
    try:
        stat = Path(item.path).stat() if item.path else None
    except OSError:
        stat = None
    return (item, stat.st_mtime_ns, stat.st_size) if stat else (item, -1, -1)


def _surface_from_rgb(array: RGBArray) -> pygame.Surface:
    """A display-format copy of a contiguous RGB array (the array's memory is read, not kept)."""
    height, width = array.shape[:2]
    return pygame.image.frombuffer(np.ascontiguousarray(array).data, (width, height), "RGB").convert()


@dataclass(frozen=True)
class NowShowing:
    """The item that has the screen (the incoming one during a transition) and when its first frame was shown."""

    item: ContentItem
    decision_id: str
    started_frame: int
    started_mono: float
    fallback_reason: str


@dataclass
class _Layer:
    """An item on screen: a still surface or a video playback, and when its first frame was presented."""

    item: ContentItem
    decision_id: str
    still: pygame.Surface | None
    video: VideoStream | None
    fallback_reason: str
    started_frame: int = -1
    started_mono: float = 0.0

    def surface(self, now: float, wait_s: float) -> pygame.Surface:
        if self.video is None:
            assert self.still is not None
            return self.still
        # Decoded on the stream's own thread into the display's layout: the main thread only blits it.
        return self.video.frame_at(max(0.0, now - self.started_mono), wait_s)

    def close(self) -> None:
        if self.video is not None:
            self.video.close()


@dataclass
class _Pending:
    item: ContentItem
    decision_id: str
    transition: Transition
    urgency: Urgency
    loop: bool


class GaplessPlayer:
    """A pygame window (or an offscreen surface with `headless=True`) that plays queued items without gaps."""

    def __init__(self, config: PlayerConfig, *, headless: bool) -> None:
        if headless:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        self._config = config
        self._fit = FitMode(config.fit)
        self._frame_interval_s = 1.0 / config.fps
        self._machine = PlayerStateMachine()
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signage-loader")
        self._stills: OrderedDict[FileKey, Future[RGBArray]] = OrderedDict()  # loading or loaded, LRU
        self._surfaces: OrderedDict[FileKey, pygame.Surface] = OrderedDict()  # converted for the display, LRU
        self._videos: OrderedDict[tuple[FileKey, bool], Future[VideoStream]] = OrderedDict()
        self._warned: set[FileKey] = set()
        self._fonts = FontCache()
        self._pending: _Pending | None = None
        self._current: _Layer | None = None
        self._outgoing: _Layer | None = None
        self._transition = Transition.CUT
        self._transition_t0 = 0.0
        self._queued_events: list[PlayEvent] = []
        self._frames = 0
        self._last_t = 0.0
        self._overlay_on = config.overlay
        self._rate = FrameRateMeter()
        pygame.display.init()
        pygame.font.init()
        flags = pygame.FULLSCREEN if config.fullscreen and not headless else 0
        self._screen = pygame.display.set_mode((config.width, config.height), flags)
        pygame.display.set_caption("signage")
        if config.fullscreen and not headless:
            pygame.mouse.set_visible(False)
        self._screen.fill(LETTERBOX_COLOR)
        self._layout = DisplayLayout.of(self._screen.get_masks())
        self._retired: list[VideoStream] = []  # closed streams whose decoder thread may still be exiting

    # --- what the engine calls ---------------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        return (self._config.width, self._config.height)

    @property
    def presented_fps(self) -> float:
        """Frames really presented per second (wall time) over the last couple of seconds."""
        return self._rate.fps

    @property
    def state(self) -> PlayerState:
        return self._machine.state

    @property
    def frames_presented(self) -> int:
        return self._frames

    @property
    def showing(self) -> NowShowing | None:
        layer = self._current
        if layer is None:
            return None
        return NowShowing(layer.item, layer.decision_id, layer.started_frame, layer.started_mono, layer.fallback_reason)

    @property
    def pending(self) -> ContentItem | None:
        """The item queued by `show()` that has not reached the screen yet."""
        return self._pending.item if self._pending else None

    def preload(self, item: ContentItem, *, loop: bool | None = None) -> None:
        """Start loading the item in the background, so that showing it later costs one frame."""
        self._check_open()
        self._future_for(item, self._config.video_loop if loop is None else loop)

    def is_ready(self, item: ContentItem, *, loop: bool | None = None) -> bool:
        future = self._peek_future(item, self._config.video_loop if loop is None else loop)
        return item.kind is ContentKind.TEXT or (future is not None and future.done())

    def wait_ready(self, item: ContentItem, timeout_s: float, *, loop: bool | None = None) -> bool:
        """Preload the item and wait up to `timeout_s` for it; True when it is ready (or failed: a card is ready)."""
        future = self._future_for(item, self._config.video_loop if loop is None else loop)
        if future is None:
            return True
        try:
            future.exception(timeout=timeout_s)
        except FutureTimeout:
            return False
        return True

    def show(
        self,
        item: ContentItem,
        *,
        decision_id: str,
        transition: Transition | None = None,
        urgency: Urgency = Urgency.NEXT,
        loop: bool | None = None,
    ) -> None:
        """Queue the item to replace the current one (see the module doc for when); returns at once."""
        self._check_open()
        chosen = Transition(self._config.transition) if transition is None else transition
        if self._config.transition_s <= 0 or urgency is Urgency.IMMEDIATE:
            chosen = Transition.CUT
        pending = _Pending(item, decision_id, chosen, urgency, self._config.video_loop if loop is None else loop)
        if self._pending is not None:
            skipped = self._pending
            self._queued_events.append(
                PlayEvent(PlayEventKind.SKIPPED, skipped.item.item_id, skipped.decision_id, self._frames, self._last_t)
            )
        self._pending = pending
        self._future_for(item, pending.loop)

    def present(self, now: float, overlay_lines: Sequence[str] = ()) -> FrameReport:
        """Draw and flip one frame for monotonic time `now`; report what started, ended or changed on it."""
        self._check_open()
        started = time.perf_counter()
        frame = self._frames
        events, self._queued_events = self._queued_events, []
        changes: list[StateChange] = []
        quit_requested = self._pump_events()
        self._take_pending(now, frame, events, changes)
        if self._machine.state is PlayerState.TRANSITIONING and self._progress(now) >= 1.0:
            self._end_layer(self._outgoing, events)
            self._outgoing = None
            changes.append(self._machine.move(Move.COMPLETE_TRANSITION, frame=frame, t_mono=now))
        self._draw(now)
        if self._overlay_on and overlay_lines:
            self._draw_overlay([*overlay_lines, f"player {self._rate.fps:.1f} fps"])
        pygame.display.flip()
        self._rate.tick(time.perf_counter())
        self._frames += 1
        self._last_t = now
        self._convert_one_loaded_still()
        return FrameReport(
            frame=frame,
            t_mono=now,
            state=self._machine.state,
            events=tuple(events),
            state_changes=tuple(changes),
            quit_requested=quit_requested,
            draw_s=time.perf_counter() - started,
        )

    def last_frame(self) -> pygame.Surface:
        """A copy of the frame presented last."""
        self._check_open()
        if self._frames == 0:
            raise RuntimeError("no frame has been presented yet")
        return self._screen.copy()

    def close(self) -> tuple[PlayEvent, ...]:
        """Stop; the ENDED events of what was on screen (at the last presented frame) are returned for the log."""
        if self._machine.state is PlayerState.CLOSED:
            return ()
        events: list[PlayEvent] = list(self._queued_events)
        self._end_layer(self._outgoing, events)
        self._end_layer(self._current, events)
        self._outgoing = self._current = self._pending = None
        self._machine.move(Move.CLOSE, frame=self._frames, t_mono=self._last_t)
        self._loader.shutdown(wait=True, cancel_futures=True)
        for future in self._videos.values():
            _close_video(future)
        self._videos.clear()
        for stream in self._retired:
            stream.join(1.0)
        self._retired.clear()
        self._stills.clear()
        self._surfaces.clear()
        self._fonts.clear()
        pygame.font.quit()
        pygame.display.quit()
        return tuple(events)

    def __enter__(self) -> GaplessPlayer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- switching ---------------------------------------------------------------------------------------------

    def _take_pending(self, now: float, frame: int, events: list[PlayEvent], changes: list[StateChange]) -> None:
        pending = self._pending
        if pending is None:
            return
        state = self._machine.state
        must_go = state is PlayerState.IDLE or pending.urgency is Urgency.IMMEDIATE
        if not must_go:
            future = self._future_for(pending.item, pending.loop)  # resubmits a load the cache evicted
            if state is PlayerState.TRANSITIONING or (future is not None and not future.done()):
                return
            current = self._current
            if (
                pending.urgency is Urgency.PREEMPT
                and current is not None
                and now - current.started_mono < self._config.min_display_s
            ):
                return
        self._pending = None
        layer = self._open_layer(pending)  # waits for the load only when it must go now
        layer.started_frame, layer.started_mono = frame, now
        events.append(
            PlayEvent(PlayEventKind.STARTED, layer.item.item_id, layer.decision_id, frame, now, layer.fallback_reason)
        )
        if state is PlayerState.IDLE:
            changes.append(self._machine.move(Move.FIRST_ITEM, frame=frame, t_mono=now))
        elif state is PlayerState.TRANSITIONING:
            self._end_layer(self._outgoing, events)
            self._end_layer(self._current, events)
            self._outgoing = None
            changes.append(self._machine.move(Move.PREEMPT, frame=frame, t_mono=now))
        elif pending.transition is Transition.CUT:
            self._end_layer(self._current, events)
            changes.append(self._machine.move(Move.CUT, frame=frame, t_mono=now))
        else:
            self._outgoing = self._current
            self._transition = pending.transition
            # Anchored one frame back, so the first transition frame already shows some of the new item.
            self._transition_t0 = now - self._frame_interval_s
            changes.append(self._machine.move(Move.BEGIN_TRANSITION, frame=frame, t_mono=now))
        self._current = layer

    def _end_layer(self, layer: _Layer | None, events: list[PlayEvent]) -> None:
        """The layer left the screen after the frame presented last: that was its last frame."""
        if layer is None:
            return
        events.append(
            PlayEvent(PlayEventKind.ENDED, layer.item.item_id, layer.decision_id, self._frames - 1, self._last_t)
        )
        layer.close()
        if layer.video is not None:
            self._retired = [stream for stream in self._retired if not stream.join(0.0)]
            self._retired.append(layer.video)

    def _progress(self, now: float) -> float:
        """0 → 1 across the transition; a hair short of 1 counts as done (float sums of frame times drift)."""
        duration = self._config.transition_s
        if duration <= 0:
            return 1.0
        progress = (now - self._transition_t0) / duration
        return 1.0 if progress >= 1.0 - 1e-6 else progress

    # --- loading -----------------------------------------------------------------------------------------------

    def _peek_future(self, item: ContentItem, loop: bool) -> Future[RGBArray] | Future[VideoStream] | None:
        key = _file_key(item)
        if item.kind is ContentKind.VIDEO:
            return self._videos.get((key, loop))
        return self._stills.get(key)

    def _future_for(self, item: ContentItem, loop: bool) -> Future[RGBArray] | Future[VideoStream] | None:
        if item.kind is ContentKind.TEXT:
            return None
        key = _file_key(item)
        if item.kind is ContentKind.VIDEO:
            video_key = (key, loop)
            video = self._videos.get(video_key)
            if video is None:
                video = self._videos[video_key] = self._submit_video(item, loop)
                while len(self._videos) > _PREPARED_VIDEOS_MAX:
                    _, evicted = self._videos.popitem(last=False)
                    evicted.add_done_callback(_close_video)
            return video
        still = self._stills.get(key)
        if still is None:
            still = self._stills[key] = self._loader.submit(load_still, item.path, self.size, self._fit)
            while len(self._stills) > self._config.cache_items:
                evicted_key, _ = self._stills.popitem(last=False)
                self._surfaces.pop(evicted_key, None)
        self._stills.move_to_end(key)
        return still

    def _submit_video(self, item: ContentItem, loop: bool) -> Future[VideoStream]:
        return self._loader.submit(
            VideoStream,
            path=item.path,
            screen=self.size,
            mode=self._fit,
            loop=loop,
            layout=self._layout,
            queue_frames=self._config.video_queue_frames,
        )

    def _open_layer(self, pending: _Pending) -> _Layer:
        """The pending item ready to draw: its loaded media, or its title card when the file cannot be shown."""
        item = pending.item
        layer = _Layer(item=item, decision_id=pending.decision_id, still=None, video=None, fallback_reason="")
        if item.kind is ContentKind.TEXT:
            layer.still = render_card(item, self.size, self._fonts)
            return layer
        key = _file_key(item)
        try:
            if item.kind is ContentKind.VIDEO:
                # A prepared playback is used once: the next show of the same video needs a fresh one.
                future_video = self._videos.pop((key, pending.loop), None) or self._submit_video(item, pending.loop)
                layer.video = future_video.result()
                return layer
            layer.still = self._still_surface(key, item)
        except (MediaError, cv2.error, ValueError) as exc:
            layer.fallback_reason = str(exc)
            if key not in self._warned:
                self._warned.add(key)
                log.warning("item %s: cannot show %r (%s); showing its title card", item.item_id, item.path, exc)
            layer.still = render_card(item, self.size, self._fonts)
            layer.video = None
        return layer

    def _convert_one_loaded_still(self) -> None:
        """After a flip, turn at most one loaded still into a display surface, so that the frame that switches to
        it only blits (converting a 1080p picture costs a few ms: too much to add to a switch frame)."""
        for key, future in reversed(self._stills.items()):  # the newest preload first
            if key not in self._surfaces and future.done() and future.exception() is None:
                self._surfaces[key] = _surface_from_rgb(future.result())
                while len(self._surfaces) > self._config.cache_items:
                    self._surfaces.popitem(last=False)
                return

    def _still_surface(self, key: FileKey, item: ContentItem) -> pygame.Surface:
        surface = self._surfaces.get(key)
        if surface is None:
            future = self._stills.get(key) or self._future_for(item, False)
            assert future is not None
            array = future.result()
            assert isinstance(array, np.ndarray)
            surface = self._surfaces[key] = _surface_from_rgb(array)
            while len(self._surfaces) > self._config.cache_items:
                self._surfaces.popitem(last=False)
        self._surfaces.move_to_end(key)
        return surface

    # --- drawing -----------------------------------------------------------------------------------------------

    def _draw(self, now: float) -> None:
        current = self._current
        if current is None:
            self._screen.fill(LETTERBOX_COLOR)
            return
        wait_s = self._config.video_wait_s
        incoming = current.surface(now, wait_s)
        outgoing_layer = self._outgoing
        if self._machine.state is not PlayerState.TRANSITIONING or outgoing_layer is None:
            self._screen.blit(incoming, (0, 0))
            return
        outgoing = outgoing_layer.surface(now, wait_s)
        progress = min(1.0, max(0.0, self._progress(now)))
        width = self._config.width
        if self._transition is Transition.SLIDE:
            eased = progress * progress * (3.0 - 2.0 * progress)  # smoothstep: starts and lands softly
            offset = min(width - 1, max(1, round(eased * width)))
            self._screen.blit(outgoing, (-offset, 0))
            self._screen.blit(incoming, (width - offset, 0))
            return
        self._screen.blit(outgoing, (0, 0))
        incoming.set_alpha(min(254, max(1, round(progress * 255))))
        self._screen.blit(incoming, (0, 0))
        incoming.set_alpha(None)

    def _draw_overlay(self, lines: Sequence[str]) -> None:
        font = self._fonts.get(max(14, self._config.height // 30))
        draw_overlay(self._screen, font, lines)

    def _pump_events(self) -> bool:
        quit_requested = False
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key in _QUIT_KEYS):
                quit_requested = True
            elif event.type == pygame.KEYDOWN and event.key == _OVERLAY_KEY:
                self._overlay_on = not self._overlay_on
        return quit_requested

    def _check_open(self) -> None:
        if self._machine.state is PlayerState.CLOSED:
            raise RuntimeError("the player is closed")


def _close_video(future: Future[VideoStream]) -> None:
    """Release a prepared playback that will not be shown (cancelled and failed ones hold nothing)."""
    if future.done() and not future.cancelled() and future.exception() is None:
        future.result().close()
