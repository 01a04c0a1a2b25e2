"""[player]: the pygame window."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class PlayerConfig(Section):
    width: int = Field(default=1280, ge=64, le=7680, description="Window width in pixels.")
    height: int = Field(default=720, ge=64, le=4320, description="Window height in pixels.")
    fullscreen: bool = Field(default=False, description="Take the whole screen (a real signage screen).")
    fps: int = Field(default=30, ge=1, le=240, description="Frames presented per second of real time.")
    overlay: bool = Field(default=True, description="Draw the operator overlay (item, viewers, clock).")
