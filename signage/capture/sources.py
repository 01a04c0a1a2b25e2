"""Frame readers: one per kind of source, all behind the same one-verb interface.

A reader is opened by a factory and read from one thread; `read()` blocks until the next image and returns it, or
returns None where OpenCV reports a failed read. A reader never decides whether the camera is healthy: the
watchdog (`signage.capture.watchdog`) judges every image it gets and restarts the reader when it has to.

Which source a string names (no hardware is probed to decide, so a config file validates anywhere):
- ``synthetic`` — frames drawn in memory (moving figures on a store-like background);
- digits (``0``, ``1``) — a USB camera by index; ``/dev/video*`` — a camera by device path;
- ``scheme://...`` (rtsp, rtmp, http, https, udp, tcp) — a network stream;
- anything else — a video file.
"""

from __future__ import annotations

import enum
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

import cv2
import numpy as np
import numpy.typing as npt

from signage.config import CaptureConfig

Image = npt.NDArray[np.uint8]

_STREAM_SCHEME = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", re.IGNORECASE)


class SourceOpenError(OSError):
    """The source could not be opened (camera absent or busy, file missing, stream unreachable)."""


class EndOfStreamError(Exception):
    """A video file ended and does not loop: the watchdog stops instead of restarting."""


class FrameReader(Protocol):
    """An opened source. `read` blocks until the next image (None: a failed read); `close` releases it."""

    def read(self) -> Image | None: ...

    def close(self) -> None: ...


class SourceKind(enum.StrEnum):
    CAMERA = "camera"
    FILE = "file"
    STREAM = "stream"
    SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class SourceSpec:
    """What `--source` names, resolved without touching hardware."""

    kind: SourceKind
    target: int | str

    @property
    def live(self) -> bool:
        """Live sources run at their own pace: the newest frame wins and older ones are dropped (and counted)."""
        return self.kind is not SourceKind.FILE

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        text = text.strip()
        if not text:
            raise ValueError("capture source is empty")
        if text.lower() == "synthetic":
            return cls(SourceKind.SYNTHETIC, "synthetic")
        if text.isdigit():
            return cls(SourceKind.CAMERA, int(text))
        if text.startswith("/dev/video"):
            return cls(SourceKind.CAMERA, text)
        if _STREAM_SCHEME.match(text):
            return cls(SourceKind.STREAM, text)
        return cls(SourceKind.FILE, text)


class OpenCVReader:
    """A USB camera (index or device path) or a network stream through cv2.VideoCapture.

    OpenCV may keep returning True from `isOpened()` after an unplug and simply fail (or hang) in `read()`; that is
    why liveness is judged by the watchdog from the frames, not from OpenCV's flags.
    """

    def __init__(self, *, target: int | str, width: int = 0, height: int = 0, fps: float = 0.0) -> None:
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceOpenError(f"cannot open video source {target!r}")
        if isinstance(target, int) or str(target).startswith("/dev/"):
            if width and height:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                self._capture.set(cv2.CAP_PROP_FPS, fps)
            # Keep the driver's own queue short so the frame we read is recent.
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> Image | None:
        ok, image = self._capture.read()
        return cast(Image, image) if ok else None

    def close(self) -> None:
        self._capture.release()


class VideoFileReader:
    """A video file, paced at its own frame rate ('realtime') or as fast as it decodes ('fast'), optionally looped."""

    def __init__(self, *, path: str, realtime: bool = True, loop: bool = False) -> None:
        self._capture = cv2.VideoCapture(path)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceOpenError(f"cannot open video file {path!r}")
        file_fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._interval_s = 1.0 / file_fps if realtime and math.isfinite(file_fps) and file_fps > 0 else 0.0
        self._loop = loop
        self._path = path
        self._closed = threading.Event()
        self._due: float | None = None  # when the next frame is due on the video's clock; set by the first read
        self.frames_skipped = 0

    @property
    def interval_s(self) -> float:
        return self._interval_s

    def read(self) -> Image | None:
        if self._interval_s:
            now = time.monotonic()
            self._due = now if self._due is None else self._due
            # A camera does not slow down when the machine is busy, so neither does a file paced in real time: the
            # frames it is late for are skipped (grabbed, not decoded), and people in it stay as long as in the file.
            for _ in range(int((now - self._due) / self._interval_s)):
                if not self._capture.grab():
                    break
                self._due += self._interval_s
                self.frames_skipped += 1
        ok, image = self._capture.read()
        if not ok and self._loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        if not ok:
            raise EndOfStreamError(self._path)
        if self._due is not None:
            self._closed.wait(max(0.0, self._due - time.monotonic()))
            self._due += self._interval_s
        return cast(Image, image)

    def close(self) -> None:
        self._closed.set()
        self._capture.release()


class SyntheticReader:
    """Frames drawn in memory at a steady rate: a few figures walking across a plain store background.

    It needs no camera and no file, so the whole capture path (pacing, drops, the watchdog) runs anywhere.
    """

    def __init__(
        self, *, width: int = 640, height: int = 480, fps: float = 15.0, people: int = 3, seed: int = 0
    ) -> None:
        self._width, self._height = width, height
        self._interval_s = 1.0 / fps
        self._closed = threading.Event()
        rng = np.random.default_rng(seed)
        self._speeds = rng.uniform(0.05, 0.2, size=people) * width  # pixels per second
        self._offsets = rng.uniform(0, width, size=people)
        self._background = np.empty((height, width, 3), np.uint8)
        self._background[:] = (70, 80, 90)
        self._background[int(height * 0.75) :] = (110, 110, 105)  # the floor
        self._start = time.monotonic()
        self._next_due = self._start

    def read(self) -> Image | None:
        self._next_due = max(self._next_due + self._interval_s, time.monotonic() - self._interval_s)
        if self._closed.wait(max(0.0, self._next_due - time.monotonic())):
            return None
        return self.draw(time.monotonic() - self._start)

    def draw(self, t: float) -> Image:
        """The frame at `t` seconds after the start (pure: the same t gives the same image)."""
        image = self._background.copy()
        h, w = self._height, self._width
        body_w, body_h = max(4, w // 12), max(8, h // 2)
        for i, (speed, offset) in enumerate(zip(self._speeds, self._offsets, strict=True)):
            x = int((offset + speed * t) % (w + body_w)) - body_w
            y = int(h * 0.3) + (i % 3) * max(1, h // 40)
            colour = (60 + 50 * (i % 4), 90, 200 - 40 * (i % 3))
            cv2.rectangle(image, (x, y + body_h // 5), (x + body_w, y + body_h), colour, thickness=-1)
            cv2.circle(image, (x + body_w // 2, y + body_h // 10), max(2, body_w // 3), (150, 170, 210), -1)
        return image

    def close(self) -> None:
        self._closed.set()


@dataclass(frozen=True)
class SourceFactory:
    """Opens the reader a spec names; picklable, so a capture worker process can call it too."""

    spec: SourceSpec
    width: int = 640
    height: int = 480
    fps: float = 15.0
    realtime: bool = True
    loop: bool = False

    @classmethod
    def from_config(cls, config: CaptureConfig) -> SourceFactory:
        return cls(
            spec=SourceSpec.parse(config.source),
            width=config.width,
            height=config.height,
            fps=config.fps,
            realtime=config.file_pacing == "realtime",
            loop=config.loop,
        )

    @property
    def lossless(self) -> bool:
        """Hand over every frame (a file read as fast as possible) instead of the newest one only."""
        return self.spec.kind is SourceKind.FILE and not self.realtime

    def __call__(self) -> FrameReader:
        kind, target = self.spec.kind, self.spec.target
        if kind is SourceKind.SYNTHETIC:
            return SyntheticReader(width=self.width, height=self.height, fps=self.fps)
        if kind is SourceKind.FILE:
            return VideoFileReader(path=str(target), realtime=self.realtime, loop=self.loop)
        return OpenCVReader(target=target, width=self.width, height=self.height, fps=self.fps)


def describe_image(image: Any) -> str:
    """A short description of what a reader returned, for logs about garbage frames."""
    if image is None:
        return "None"
    if isinstance(image, np.ndarray):
        return f"array {image.shape} {image.dtype}"
    return type(image).__name__
