"""[tracking]: anonymous track ids with hysteresis, and how detections are associated with tracks."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class TrackingConfig(Section):
    init_hits: int = Field(
        default=3, ge=1, le=100, description="Consecutive sightings before a person gets a track id (no ghosts)."
    )
    max_unseen_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Seconds a confirmed track may go without a sighting (coasting on its prediction) before it is "
        "dropped, and never longer than it had been seen; in time, not frames, so tracking behaves the same at any "
        "frame rate.",
    )
    min_iou: float = Field(
        default=0.2, ge=0, le=1, description="Least box overlap (IoU) with a track's prediction to continue it."
    )
    max_jump: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Without overlap, a sighting still continues a track if its centre moved at most this many "
        "box widths from the prediction.",
    )
    face_in_body_min: float = Field(
        default=0.6, gt=0, le=1, description="Share of a face box inside a body's head region to pair them."
    )
    velocity_smoothing: float = Field(
        default=0.8,
        ge=0,
        lt=1,
        description="Weight of the previous velocity in the smoothed track velocity (higher: steadier predictions "
        "through crossings, slower to notice a stop).",
    )
    direction_min_speed: float = Field(
        default=0.25,
        ge=0,
        le=10,
        description="Body widths per second below which a person counts as standing (not moving).",
    )
