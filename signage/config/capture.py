"""[capture]: where frames come from, and how the camera watchdog restarts a camera that fails."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from signage.config.base import Section


class CaptureConfig(Section):
    source: str = Field(
        default="0",
        min_length=1,
        description=(
            "Camera index (0), device path (/dev/video0), video file, stream URL (rtsp://, http://...) or 'synthetic'."
        ),
    )
    width: int = Field(default=640, ge=16, le=7680, description="Requested camera width in pixels (live cameras).")
    height: int = Field(default=480, ge=16, le=4320, description="Requested camera height in pixels (live cameras).")
    fps: float = Field(
        default=15.0, gt=0, le=240, description="Requested camera rate; the rate of the synthetic source."
    )
    file_pacing: Literal["realtime", "fast"] = Field(
        default="realtime",
        description="Video files: 'realtime' plays at the file's rate (newest frame wins); 'fast' hands over "
        "every frame as fast as the consumer takes it (analysis).",
    )
    loop: bool = Field(default=False, description="Video files: start again at the end instead of stopping.")
    isolation: Literal["process", "thread"] = Field(
        default="process",
        description="'process' reads the camera in a child process restarted fresh on failure (recovers cameras "
        "that only reopen in a new process); 'thread' reads in this process (cheaper, for files and tests).",
    )
    stall_timeout_s: float = Field(
        default=3.0, gt=0, le=120, description="No good frame for this long marks a live camera stalled."
    )
    start_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="A (re)started camera must deliver its first frame within this."
    )
    bad_reads_to_stall: int = Field(
        default=5, ge=1, le=1000, description="Consecutive failed or garbage reads that mark the camera stalled."
    )
    restart_initial_s: float = Field(default=0.5, gt=0, le=60, description="First wait before restarting a camera.")
    restart_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="Longest wait between restarts (the backoff doubles up to this)."
    )
    restart_budget: int = Field(
        default=20, ge=1, le=10_000, description="Most restarts within restart_window_s; then it waits for the window."
    )
    restart_window_s: float = Field(default=600.0, gt=0, le=86_400, description="The window of the restart budget.")
    backoff_reset_s: float = Field(
        default=30.0, gt=0, le=3600, description="Live this long without a failure resets the backoff to its start."
    )
    poll_interval_s: float = Field(
        default=0.1, gt=0, le=10, description="How often the watchdog checks the camera's liveness."
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> Self:
        if self.restart_max_s < self.restart_initial_s:
            raise ValueError(
                f"restart_max_s ({self.restart_max_s}) must be >= restart_initial_s ({self.restart_initial_s})"
            )
        return self
