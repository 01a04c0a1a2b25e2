"""Capture: frame sources (camera, file, stream, synthetic) and the supervisor that keeps the camera alive."""

from signage.capture.isolation import Isolated, ProcessReader
from signage.capture.sources import (
    EndOfStreamError,
    FrameReader,
    OpenCVReader,
    SourceFactory,
    SourceKind,
    SourceOpenError,
    SourceSpec,
    SyntheticReader,
    VideoFileReader,
)
from signage.capture.watchdog import (
    TRANSITIONS,
    CameraEvent,
    CameraState,
    CameraSupervisor,
    CaptureStats,
    Transition,
    check_image,
)
from signage.config import CaptureConfig

__all__ = [
    "TRANSITIONS",
    "CameraEvent",
    "CameraState",
    "CameraSupervisor",
    "CaptureStats",
    "EndOfStreamError",
    "FrameReader",
    "Isolated",
    "OpenCVReader",
    "ProcessReader",
    "SourceFactory",
    "SourceKind",
    "SourceOpenError",
    "SourceSpec",
    "SyntheticReader",
    "Transition",
    "VideoFileReader",
    "check_image",
    "open_camera",
]


def open_camera(config: CaptureConfig) -> CameraSupervisor:
    """The supervisor for `config.source`, isolated in a capture process when the config asks for it (not started).

    Files and the synthetic source need no process: they cannot wedge a driver.
    """
    factory = SourceFactory.from_config(config)
    needs_process = config.isolation == "process" and factory.spec.kind in (SourceKind.CAMERA, SourceKind.STREAM)
    opener = Isolated(factory=factory, open_timeout_s=config.start_timeout_s) if needs_process else factory
    return CameraSupervisor(factory=opener, config=config, lossless=factory.lossless)
