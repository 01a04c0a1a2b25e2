"""Media files decoded with OpenCV into screen-sized RGB arrays: still images and video playbacks.

Everything here is plain numpy and cv2 (no pygame), so a loader thread can run it while the main thread keeps
presenting frames: cv2 releases the GIL while it decodes and resizes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from signage.player.fitting import LETTERBOX_COLOR, FitMode, RGBArray, compose
from signage.types import ContentKind

__all__ = ["DEFAULT_VIDEO_FPS", "MediaError", "VideoPlayback", "load_still", "probe_media", "read_image", "to_rgb"]

DEFAULT_VIDEO_FPS = 25.0  # when a container does not say its frame rate


class MediaError(Exception):
    """A media file that cannot be shown: missing, unreadable, corrupt or empty. The message says which."""


def to_rgb(decoded: npt.NDArray[Any], source: str) -> RGBArray:
    """OpenCV's BGR / BGRA / grey / 16-bit output as 8-bit RGB (alpha composited onto the letterbox colour)."""
    image = decoded
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise MediaError(f"{source}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB).astype(np.float32)
        background = np.array(LETTERBOX_COLOR, np.float32)
        return np.ascontiguousarray((rgb * alpha + background * (1.0 - alpha) + 0.5).astype(np.uint8))
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def read_image(path: str | Path) -> RGBArray:
    """Decode a png, jpg or webp file into an RGB array; MediaError says why it cannot."""
    source = str(path)
    if not Path(source).is_file():
        raise MediaError(f"{source}: file not found")
    decoded = cv2.imread(source, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise MediaError(f"{source}: not a readable image (corrupt or unsupported format)")
    return to_rgb(decoded, source)


def load_still(path: str | Path, screen: tuple[int, int], mode: FitMode) -> RGBArray:
    """An image file as a screen-sized RGB array, placed by `mode`."""
    return compose(read_image(path), screen, mode)


class VideoPlayback:
    """One playback of a video file, from its first frame: `frame_at(elapsed_s)` gives the screen-sized frame due at
    that time since the playback started. Looping wraps around; play-once holds the last frame (`finished`).

    The first frame is decoded on construction, so a playback built ahead of time (preloaded) is ready to present.
    Frames are decoded in order and skipped with `grab()` when presentation falls behind, never queued up.
    """

    def __init__(self, *, path: str | Path, screen: tuple[int, int], mode: FitMode, loop: bool) -> None:
        self._source = str(path)
        if not Path(self._source).is_file():
            raise MediaError(f"{self._source}: file not found")
        self._screen = screen
        self._mode = mode
        self._loop = loop
        self._capture = cv2.VideoCapture(self._source)
        if not self._capture.isOpened():
            raise MediaError(f"{self._source}: not a readable video (corrupt or unsupported codec)")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if math.isfinite(fps) and 1.0 <= fps <= 240.0 else DEFAULT_VIDEO_FPS
        self._frame_count: int | None = None  # learned when the first pass reaches the end
        self._decoded_index = -1
        self._loop_offset = 0  # frames played in earlier passes
        self._finished = False
        first = self._read()
        if first is None:
            self.close()
            raise MediaError(f"{self._source}: video has no decodable frame")
        self._current = first

    @property
    def finished(self) -> bool:
        """True once a play-once video has shown its last frame (it holds it from then on)."""
        return self._finished

    def frame_at(self, elapsed_s: float) -> RGBArray:
        """The frame due `elapsed_s` after the playback started (the current one if no newer frame is due)."""
        target = max(0, math.floor(elapsed_s * self.fps + 1e-6)) - self._loop_offset
        while target > self._decoded_index and not self._finished:
            if target > self._decoded_index + 1 and self._capture.grab():
                self._decoded_index += 1  # behind schedule: skip without converting
                continue
            frame = self._read() if target == self._decoded_index + 1 else None
            if frame is not None:
                self._current = frame
                continue
            self._reached_end()
            target = max(0, math.floor(elapsed_s * self.fps + 1e-6)) - self._loop_offset
        return self._current

    def close(self) -> None:
        self._capture.release()

    # --- internals ---------------------------------------------------------------------------------------------

    def _read(self) -> RGBArray | None:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        self._decoded_index += 1
        return compose(to_rgb(frame, self._source), self._screen, self._mode)

    def _reached_end(self) -> None:
        """The container ran out of frames: wrap around (loop) or hold the last frame (play once)."""
        count = self._decoded_index + 1
        if self._frame_count is None:
            self._frame_count = count
        if not self._loop or count <= 0:
            self._finished = True
            return
        self._loop_offset += count
        self._decoded_index = -1
        if not self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
            self._capture.release()
            self._capture = cv2.VideoCapture(self._source)


def probe_media(path: str | Path, kind: ContentKind) -> str | None:
    """None if the file can be shown as `kind`, else the reason it cannot (for validation and quarantine)."""
    if kind is ContentKind.TEXT:
        return None
    try:
        if kind is ContentKind.IMAGE:
            read_image(path)
        else:
            VideoPlayback(path=path, screen=(64, 36), mode=FitMode.FIT, loop=False).close()
    except MediaError as exc:
        return str(exc)
    return None
