"""A fake camera that fails the way USB cameras fail in the field, for tests and benchmarks.

`FakeCameraDevice` is the physical camera: a test switches its mode (live, stalled, raising, garbage, unplugged)
and every reader opened on it behaves accordingly. Like a real camera, a handle that has seen a failure stays
broken: it keeps failing after the device comes back, so only a restart (a new reader from the factory) recovers.
With `wedged_per_process`, a process that saw a failure can never open the device again (the driver state some
cameras leave behind), so only a fresh capture process recovers it. The mode lives in shared memory, so a device
passed to a capture worker process is still steered by the test.
"""

from __future__ import annotations

import enum
import multiprocessing
import os
import threading
import time
from typing import Any

import numpy as np

from signage.capture.sources import Image, SourceOpenError

_SPAWN = multiprocessing.get_context("spawn")


class FakeMode(enum.IntEnum):
    LIVE = 0
    STALL = 1  # read() hangs
    ERROR = 2  # read() raises
    GARBAGE = 3  # read() returns None, empty, wrongly shaped or typed images
    UNPLUGGED = 4  # read() returns None (OpenCV's way of saying nothing); open fails


class FakeCameraDevice:
    """The physical fake camera; picklable into a capture worker process (its mode is shared memory)."""

    def __init__(self, *, width: int = 64, height: int = 48, fps: float = 100.0, wedged_per_process: bool = False):
        self.width, self.height, self.fps = width, height, fps
        self.wedged_per_process = wedged_per_process
        self._mode: Any = _SPAWN.Value("i", int(FakeMode.LIVE), lock=False)
        self._opens: Any = _SPAWN.Value("i", 0)
        self._failed_in_pids: set[int] = set()

    @property
    def mode(self) -> FakeMode:
        return FakeMode(self._mode.value)

    def set_mode(self, mode: FakeMode) -> None:
        self._mode.value = int(mode)

    @property
    def opens(self) -> int:
        """How many readers were opened on this device, in any process."""
        return int(self._opens.value)

    def mark_failed_here(self) -> None:
        self._failed_in_pids.add(os.getpid())

    def open(self) -> FakeCameraReader:
        if self.mode is FakeMode.UNPLUGGED:
            raise SourceOpenError("fake camera: no such device")
        if self.wedged_per_process and os.getpid() in self._failed_in_pids:
            raise SourceOpenError("fake camera: device busy (needs a fresh process)")
        with self._opens.get_lock():
            self._opens.value += 1
        return FakeCameraReader(device=self)

    # The factory a supervisor calls: opening the device is what a restart does.
    def __call__(self) -> FakeCameraReader:
        return self.open()


class FakeCameraReader:
    """One opened handle on the fake camera; see the module docstring for how it fails."""

    def __init__(self, *, device: FakeCameraDevice) -> None:
        self._device = device
        self._interval_s = 1.0 / device.fps
        self._closed = threading.Event()
        self._broken = False
        self._hung = False
        self._count = 0
        self._garbage_count = 0

    def read(self) -> Image | None:
        mode = self._device.mode
        if mode is not FakeMode.LIVE and not self._broken:
            self._broken = True
            self._device.mark_failed_here()
        if mode is FakeMode.STALL:
            self._hung = True
        if self._hung:
            # A hung handle stays hung until it is closed, even when the device comes back.
            while not self._closed.wait(0.05):
                pass
            return None
        if self._closed.wait(self._interval_s):
            return None
        if mode is FakeMode.ERROR:
            raise OSError("fake camera: read failed (VIDIOC_DQBUF)")
        if mode is FakeMode.GARBAGE:
            self._garbage_count += 1
            return self._garbage(self._garbage_count)  # type: ignore[return-value]
        if self._broken:  # unplugged, or back but this handle is dead
            return None
        self._count += 1
        image = np.empty((self._device.height, self._device.width, 3), np.uint8)
        image[:] = self._count % 256
        return image

    def _garbage(self, n: int) -> object:
        h, w = self._device.height, self._device.width
        kinds: tuple[object, ...] = (
            None,
            np.zeros((0, 0, 3), np.uint8),
            np.zeros((h, w, 3), np.float32),
            np.zeros((h, w), np.uint8),
            np.zeros((h, w, 4), np.uint8),
            "not an image",
        )
        return kinds[n % len(kinds)]

    def close(self) -> None:
        self._closed.set()


def wait_until(predicate: Any, timeout_s: float, poll_s: float = 0.01) -> bool:
    """Poll `predicate` until true or the timeout passes (for tests and benchmarks)."""
    deadline = time.monotonic() + timeout_s
    stop = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        stop.wait(poll_s)
    return True
