"""[audience]: thresholds behind the attention metrics (see docs/metrics.md)."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class AudienceConfig(Section):
    facing_max_yaw_deg: float = Field(
        default=22.0, ge=1, le=90, description="A face is towards the screen when |yaw| is at most this."
    )
    facing_max_pitch_deg: float = Field(default=20.0, ge=1, le=90, description="... and |pitch| is at most this.")
    passer_by_min_s: float = Field(
        default=0.5, ge=0, le=30, description="Time in view before a tracked person counts as a passer-by (OTS)."
    )
    watcher_min_s: float = Field(
        default=1.0, gt=0, le=30, description="Continuous facing time that makes a passer-by a watcher."
    )
    hold_threshold_s: float = Field(
        default=3.0, gt=0, le=120, description="Attention on one item that counts as holding the viewer."
    )
    lost_after_s: float = Field(
        default=1.0, gt=0, le=60, description="A viewer unseen this long has left; their visit is closed."
    )
    max_gap_s: float = Field(
        default=0.5, gt=0, le=10, description="Longest gap between sightings still counted as continuous time."
    )
    update_interval_s: float = Field(
        default=5.0, gt=0, le=3600, description="How often an open viewer emits an update event."
    )
    reading_span_deg: float = Field(
        default=40.0,
        gt=0,
        le=180,
        description="Horizontal gaze angle across the screen's width, degrees (a 55-inch screen seen from 1.7 m): "
        "gaze is mapped to screen widths for the reading detector.",
    )
