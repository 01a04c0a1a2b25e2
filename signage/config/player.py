"""[player]: the pygame window, how items are placed on it and how one item gives way to the next."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from signage.config.base import Section


class PlayerConfig(Section):
    width: int = Field(default=1280, ge=64, le=7680, description="Window width in pixels.")
    height: int = Field(default=720, ge=64, le=4320, description="Window height in pixels.")
    fullscreen: bool = Field(default=False, description="Take the whole screen (a real signage screen).")
    fps: int = Field(default=30, ge=1, le=240, description="Frames presented per second of real time.")
    overlay: bool = Field(default=True, description="Draw the operator overlay (item, viewers, clock); key o toggles.")
    fit: Literal["letterbox", "fill", "fit"] = Field(
        default="letterbox",
        description="Placing items of another shape: letterbox (whole item, dark bars), fill (cover, crop the "
        "overflow), fit (stretch to the screen).",
    )
    transition: Literal["cut", "crossfade", "slide"] = Field(
        default="crossfade", description="How one item gives way to the next (a forced cut is always a cut)."
    )
    transition_s: float = Field(default=0.5, ge=0.0, le=5.0, description="Length of a crossfade or slide, seconds.")
    min_display_s: float = Field(
        default=4.0,
        ge=0.0,
        le=600.0,
        description="A preempting decision (a viewer arrived) waits until the current item was on screen this long.",
    )
    preempt_on_arrival: bool = Field(
        default=False,
        description="When someone comes into view while the item on screen was chosen for an empty aisle, choose "
        "again for them at once (shown after min_display_s) instead of waiting for the item to end. Off by default: "
        "it lifts the plain playlist's hold rate, but in a mixed run the control arm's hold rate then reads a few "
        "points below a separate playlist run (measured on the virtual store), so the uplift would be biased.",
    )
    video_loop: bool = Field(
        default=True, description="Videos loop until their item ends; false: play once and hold the last frame."
    )
    cache_items: int = Field(
        default=12, ge=1, le=256, description="Prepared still items kept in memory (about width*height*4 bytes each)."
    )
    video_queue_frames: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Decoded video frames a playing video keeps ready ahead of the one on screen (screen-sized each).",
    )
    video_wait_s: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="How long a frame may wait for a video frame that is due but not decoded yet; 0 shows the newest "
        "ready one at once (a real-time screen never waits on a decoder).",
    )
