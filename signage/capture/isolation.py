"""Capture in a child process, so that a camera which only reopens in a fresh process can be recovered.

`ProcessReader` is a `FrameReader` whose real reader lives in a spawned worker process (spawn, not fork: the child
inherits no driver state, threads or locks from the engine). Every restart of the supervisor opens a new
`ProcessReader`, hence a new process; closing one stops its process and kills it if it does not stop in time.

Frames come back through a `multiprocessing` pipe (a kernel socket buffer: memory only, never a file): a small
header, then the raw pixels. The worker sends as fast as its reader produces; the supervisor's reader thread drains
the pipe continuously and keeps the newest frame, so frames never queue up behind each other for long. The cost of
the hop is measured by `benchmarks/audience.py --capture` (about one copy of the frame each way).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from signage.capture.sources import EndOfStreamError, FrameReader, Image, SourceOpenError, describe_image

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
STOP_GRACE_S = 1.0

# Messages from the worker: (kind, payload); a FRAME header is followed by one send_bytes with the pixels.
_OPENED, _OPEN_FAILED, _FRAME, _NONE, _GARBAGE, _ERROR, _END = (
    "opened",
    "open_failed",
    "frame",
    "none",
    "garbage",
    "error",
    "end",
)


def _worker(factory: Callable[[], FrameReader], conn: Connection, stop: Any) -> None:
    """The child process: open the reader, then forward every read until told to stop or the pipe closes."""
    try:
        reader = factory()
    except Exception as error:
        conn.send((_OPEN_FAILED, f"{type(error).__name__}: {error}"))
        return
    conn.send((_OPENED, ""))
    try:
        while not stop.is_set():
            try:
                image = reader.read()
            except EndOfStreamError:
                conn.send((_END, ""))
                return
            except Exception as error:
                conn.send((_ERROR, f"{type(error).__name__}: {error}"))
                continue
            if image is None:
                conn.send((_NONE, ""))
            elif isinstance(image, np.ndarray) and image.dtype == np.uint8:
                array = np.ascontiguousarray(image)
                conn.send((_FRAME, array.shape))
                conn.send_bytes(array.reshape(-1).data)
            else:  # let the watchdog judge it, as it would in-process
                conn.send((_GARBAGE, describe_image(image)))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent went away or closed us
    finally:
        reader.close()


class CaptureProcessError(OSError):
    """The capture worker process died or closed its pipe."""


class GarbageFromWorker:
    """Stands for a non-image value the worker's reader returned; the watchdog rejects it as garbage."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"GarbageFromWorker({self.description})"


class ProcessReader:
    """A reader running `factory` in a fresh spawned process; frames come back through a pipe."""

    def __init__(self, *, factory: Callable[[], FrameReader], open_timeout_s: float = 10.0) -> None:
        receive, send = _SPAWN.Pipe(duplex=False)
        self._stop = _SPAWN.Event()
        self._conn = receive
        self._process = _SPAWN.Process(target=_worker, args=(factory, send, self._stop), daemon=True, name="capture")
        self._process.start()
        send.close()  # only the child writes; our copy would keep the pipe open after the child dies
        try:
            if not self._conn.poll(open_timeout_s):
                raise SourceOpenError(f"capture process did not open the source within {open_timeout_s:g} s")
            kind, detail = self._conn.recv()
        except (EOFError, OSError) as error:
            self.close()
            if isinstance(error, SourceOpenError):
                raise
            raise SourceOpenError(f"capture process exited while opening (code {self._process.exitcode})") from None
        if kind == _OPEN_FAILED:
            self.close()
            raise SourceOpenError(detail)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def read(self) -> Image | None:
        try:
            kind, detail = self._conn.recv()
            if kind == _FRAME:
                data = self._conn.recv_bytes()
                # Read-only view on the received bytes: no second copy, and frames are immutable anyway.
                return np.frombuffer(data, np.uint8).reshape(detail)
        except (EOFError, OSError) as error:
            raise CaptureProcessError(f"capture process gone (exit code {self._process.exitcode})") from error
        if kind == _NONE:
            return None
        if kind == _GARBAGE:
            return GarbageFromWorker(detail)  # type: ignore[return-value]
        if kind == _ERROR:
            raise OSError(detail)
        if kind == _END:
            raise EndOfStreamError("capture process: end of stream")
        raise CaptureProcessError(f"capture process sent an unknown message {kind!r}")

    def close(self) -> None:
        self._stop.set()
        self._process.join(STOP_GRACE_S)
        if self._process.is_alive():  # a read hung in the driver: the process goes, and the driver state with it
            self._process.kill()
            self._process.join(STOP_GRACE_S)
        self._conn.close()


@dataclass(frozen=True)
class Isolated:
    """A factory that opens `factory`'s reader in a fresh capture process each time it is called."""

    factory: Callable[[], FrameReader]
    open_timeout_s: float = 10.0

    def __call__(self) -> ProcessReader:
        return ProcessReader(factory=self.factory, open_timeout_s=self.open_timeout_s)
