"""Video decoding off the main thread: one decoder thread per playing video fills a small bounded queue with frames
that are ready to blit, and the main thread only takes the newest frame that is due and blits it.

A `VideoStream` is one playback of a video file from its first frame:

- The first frame is decoded when the stream is built (in the player's loader thread), so a preloaded stream shows
  its first frame at once. The decoder thread starts with the first `frame_at()`, so a stream prepared ahead of time
  holds one frame, not a queue.
- The decoder converts every frame to the display's pixel layout (32-bit, the display's byte order) straight into a
  pygame surface, outside the GIL (OpenCV releases it), so blitting it costs a copy, and a crossfade over it costs
  no more than one over a still.
- The queue holds at most `queue_frames` frames ahead of the one on screen (backpressure: the decoder waits for
  room). When the main thread comes late, it takes the newest frame that is due and drops the older ones; when the
  decoder falls behind, it skips frames that are already late with `grab()` (no conversion) and decodes the one that
  is due. Frames are never queued up behind each other.
- `frame_at(elapsed_s, wait_s)` never blocks longer than `wait_s`: with 0 (the player's default) the main thread
  shows the newest frame that is ready; a test may pass a long wait to see exactly the frame that is due.

States: READY (first frame decoded, no thread) → RUNNING (the thread decodes) → ENDED (a play-once video reached its
end, or the file failed mid-way: the last frame is held) → CLOSED. Surfaces that left the screen are reused by the
decoder (no 8 MB allocation per 1080p frame).
"""

from __future__ import annotations

import enum
import logging
import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pygame

from signage.player.fitting import FitMode, compose
from signage.player.media import DEFAULT_VIDEO_FPS, MediaError, to_rgb

__all__ = ["DisplayLayout", "StreamState", "StreamStats", "VideoStream"]

log = logging.getLogger("signage.player")

_BGRX_MASKS = (0xFF0000, 0xFF00, 0xFF, 0)  # bytes B, G, R, X in little-endian memory: SDL's usual XRGB8888
_RGBX_MASKS = (0xFF, 0xFF00, 0xFF0000, 0)


class DisplayLayout(enum.Enum):
    """The byte order of a 32-bit display surface; frames are written in it so a blit is a plain copy."""

    BGRX = "bgrx"
    RGBX = "rgbx"

    @classmethod
    def of(cls, masks: tuple[int, ...]) -> DisplayLayout:
        """The layout whose masks match the display's (BGRX for anything else: the blit then converts)."""
        if sys.byteorder == "little" and tuple(masks[:3]) == _RGBX_MASKS[:3]:
            return cls.RGBX
        return cls.BGRX

    @property
    def masks(self) -> tuple[int, int, int, int]:
        return _RGBX_MASKS if self is DisplayLayout.RGBX else _BGRX_MASKS

    @property
    def cv2_code(self) -> int:
        return cv2.COLOR_RGB2RGBA if self is DisplayLayout.RGBX else cv2.COLOR_RGB2BGRA


class StreamState(enum.StrEnum):
    READY = "ready"  # the first frame is decoded; no thread yet
    RUNNING = "running"  # the decoder thread fills the queue
    ENDED = "ended"  # no more frames: a play-once video reached its end (or the file failed); the last is held
    CLOSED = "closed"


@dataclass(frozen=True)
class StreamStats:
    """Counters of one stream: decoded and converted frames, frames skipped late without conversion, frames
    decoded but never shown (a newer one was due), and `frame_at` calls that got an older frame than was due."""

    decoded: int
    skipped: int
    dropped: int
    late: int
    queued: int


@dataclass(frozen=True)
class _Frame:
    index: int  # frames since the playback started, across loops
    surface: pygame.Surface


class VideoStream:
    """One playback of a video file, decoded by its own thread into display-ready surfaces (see the module doc)."""

    def __init__(
        self,
        *,
        path: str | Path,
        screen: tuple[int, int],
        mode: FitMode,
        loop: bool,
        layout: DisplayLayout = DisplayLayout.BGRX,
        queue_frames: int = 3,
    ) -> None:
        if queue_frames < 1:
            raise ValueError(f"VideoStream: queue_frames must be >= 1, got {queue_frames}")
        self._source = str(path)
        if not Path(self._source).is_file():
            raise MediaError(f"{self._source}: file not found")
        self._screen = screen
        self._mode = mode
        self._loop = loop
        self._layout = layout
        self._capacity = queue_frames
        self._capture = cv2.VideoCapture(self._source)
        if not self._capture.isOpened():
            raise MediaError(f"{self._source}: not a readable video (corrupt or unsupported codec)")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if math.isfinite(fps) and 1.0 <= fps <= 240.0 else DEFAULT_VIDEO_FPS
        self._cond = threading.Condition()
        self._queue: deque[_Frame] = deque()
        self._spare: list[pygame.Surface] = []  # surfaces that left the screen, for the decoder to reuse
        self._target = 0  # the newest frame index the main thread asked for
        self._next_index = 0  # decoder side: the index of the next frame in the file
        self._pass_frames = 0  # decoder side: frames read in the current pass over the file
        self._decoded = self._skipped = self._dropped = self._late = 0
        self._thread: threading.Thread | None = None
        self._state = StreamState.READY
        try:
            first = self._decode_next()
        except (cv2.error, ValueError) as exc:
            self._capture.release()
            raise MediaError(f"{self._source}: cannot decode ({exc})") from exc
        if first is None:
            self._capture.release()
            raise MediaError(f"{self._source}: video has no decodable frame")
        self._current = first

    # --- the main thread -----------------------------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def finished(self) -> bool:
        """True once a play-once video shows its last frame (it holds it from then on)."""
        with self._cond:
            return self._state is StreamState.ENDED and not self._queue

    def stats(self) -> StreamStats:
        with self._cond:
            return StreamStats(self._decoded, self._skipped, self._dropped, self._late, len(self._queue))

    def frame_at(self, elapsed_s: float, wait_s: float = 0.0) -> pygame.Surface:
        """The newest decoded frame due `elapsed_s` after the playback started; waits at most `wait_s` for the frame
        that is due when it is not decoded yet (0: never waits)."""
        target = max(0, math.floor(elapsed_s * self.fps + 1e-6))
        deadline: float | None = None
        with self._cond:
            if self._state is StreamState.CLOSED:
                return self._current.surface
            if self._state is StreamState.READY:
                self._start()
            if target > self._target:
                self._target = target
                self._cond.notify_all()
            while True:
                taken = 0
                while self._queue and self._queue[0].index <= target:
                    self._spare.append(self._current.surface)
                    self._current = self._queue.popleft()
                    taken += 1
                if taken:
                    self._dropped += taken - 1
                    self._cond.notify_all()  # room in the queue
                done = self._current.index >= target or bool(self._queue) or self._state is not StreamState.RUNNING
                if done or wait_s <= 0:
                    break
                now = time.perf_counter()
                deadline = now + wait_s if deadline is None else deadline
                if now >= deadline:
                    break
                self._cond.wait(deadline - now)
            if self._current.index < target and self._state is StreamState.RUNNING:
                self._late += 1
            return self._current.surface

    def close(self) -> None:
        """Stop decoding (returns at once; the thread releases the file as it exits). Idempotent."""
        with self._cond:
            if self._state is StreamState.CLOSED:
                return
            had_thread = self._thread is not None
            self._state = StreamState.CLOSED
            self._queue.clear()
            self._spare.clear()
            self._cond.notify_all()
        if not had_thread:
            self._capture.release()

    def join(self, timeout_s: float) -> bool:
        """Wait for the decoder thread to exit after `close()`; True when it has (or never ran)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    # --- the decoder thread --------------------------------------------------------------------------------------

    def _start(self) -> None:
        self._state = StreamState.RUNNING
        self._thread = threading.Thread(target=self._run, name="signage-video", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while self._state is StreamState.RUNNING and len(self._queue) >= self._capacity:
                        self._cond.wait()
                    if self._state is not StreamState.RUNNING:
                        return
                    target = self._target
                    spare = self._spare.pop() if self._spare else None
                frame = self._next_due(target, spare)
                with self._cond:
                    if self._state is not StreamState.RUNNING:
                        return
                    if frame is None:
                        self._state = StreamState.ENDED
                    else:
                        self._queue.append(frame)
                    self._cond.notify_all()
        except (cv2.error, ValueError) as exc:
            log.warning("video %s: decoding failed (%s); holding its last frame", self._source, exc)
            with self._cond:
                if self._state is StreamState.RUNNING:
                    self._state = StreamState.ENDED
                self._cond.notify_all()
        finally:
            self._capture.release()

    def _next_due(self, target: int, spare: pygame.Surface | None) -> _Frame | None:
        """Skip frames that are already late (newer ones are due), decode the next one; None at the very end."""
        while True:
            if self._next_index < target:
                if self._capture.grab():
                    self._next_index += 1
                    self._pass_frames += 1
                    self._skipped += 1
                    continue
            else:
                frame = self._decode_next(spare)
                if frame is not None:
                    return frame
            if not self._wrap():
                return None

    def _wrap(self) -> bool:
        """The file ran out of frames: start it over (loop) and say True, or say False (play once, or empty)."""
        if not self._loop or self._pass_frames == 0:
            return False
        self._pass_frames = 0
        if not self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
            self._capture.release()
            self._capture = cv2.VideoCapture(self._source)
        return True

    def _decode_next(self, spare: pygame.Surface | None = None) -> _Frame | None:
        ok, decoded = self._capture.read()
        if not ok or decoded is None:
            return None
        rgb = compose(to_rgb(decoded, self._source), self._screen, self._mode)
        surface = spare if spare is not None else pygame.Surface(self._screen, 0, 32, self._layout.masks)
        width, height = self._screen
        if surface.get_pitch() != width * 4:
            raise ValueError(f"unexpected surface pitch {surface.get_pitch()} for width {width}")
        proxy = surface.get_buffer()
        try:
            # pygame's stubs do not declare BufferProxy's buffer protocol.
            pixels = np.frombuffer(proxy, np.uint8).reshape(height, width, 4)  # type: ignore[call-overload]
            cv2.cvtColor(rgb, self._layout.cv2_code, dst=pixels)
            del pixels
        finally:
            del proxy  # unlocks the surface: it can be blitted
        frame = _Frame(self._next_index, surface)
        self._next_index += 1
        self._pass_frames += 1
        self._decoded += 1
        return frame
