"""[audience]: thresholds behind the attention metrics (see docs/metrics.md), the reading detector's parameters
(`reading_*`, see signage/audience/reading.py) and the reaction-to-content window."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

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
    reaction_window_s: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="Reaction to content: the viewer's attention share and mood in this many seconds before an item "
        "started are compared with the same span after it started.",
    )
    reaction_mood_delay_s: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="Reaction to content: a face takes about this long to react to a new item, so the mood after the "
        "start is the one seen from this many seconds after it to the end of the reaction window; live, the mood of "
        "every face watching is measured again at this time.",
    )
    reading_span_deg: float = Field(
        default=40.0,
        gt=0,
        le=180,
        description="Horizontal gaze angle across the screen's width, degrees (a 55-inch screen seen from 1.7 m): "
        "gaze is mapped to screen widths for the reading detector.",
    )
    reading_fixation_radius: float = Field(
        default=0.025,
        gt=0,
        le=0.5,
        description="Reading: gaze samples within this many screen widths of a group's mean belong to one fixation.",
    )
    reading_min_fixation_s: float = Field(
        default=0.1, gt=0, le=2, description="Reading: the shortest fixation, seconds."
    )
    reading_max_fixation_drift: float = Field(
        default=0.15,
        gt=0,
        le=5,
        description="Reading: a fixation drifting faster than this (screen widths per second) is pursuit, not reading.",
    )
    reading_min_step: float = Field(
        default=0.015, gt=0, le=0.5, description="Reading: the smallest forward step (word to word), screen widths."
    )
    reading_max_step: float = Field(
        default=0.2, gt=0, le=1, description="Reading: the largest forward step, screen widths."
    )
    reading_min_return: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Reading: a leftward jump of at least this many screen widths is a return sweep to a new line.",
    )
    reading_max_gap_s: float = Field(
        default=0.6, gt=0, le=10, description="Reading: a longer break between two fixations ends the line."
    )
    reading_min_steps_per_line: int = Field(
        default=2, ge=1, le=50, description="Reading: forward steps before a return sweep for a line to count."
    )
    reading_min_lines: int = Field(
        default=2, ge=1, le=50, description="Reading: lines in the window before the viewer counts as reading."
    )
    reading_min_share: float = Field(
        default=0.7, ge=0, le=1, description="Reading: least share of reading-like steps among all steps."
    )
    reading_window_s: float = Field(
        default=6.0, gt=0, le=60, description="Reading: the sliding window of gaze the detector decides on, seconds."
    )
    reading_release_s: float = Field(
        default=2.0, ge=0, le=60, description="Reading ends after this long without a reading verdict, seconds."
    )

    @model_validator(mode="after")
    def _reaction_delay_inside_the_window(self) -> Self:
        if self.reaction_mood_delay_s >= self.reaction_window_s:
            raise ValueError(
                f"reaction_mood_delay_s ({self.reaction_mood_delay_s}) must be < reaction_window_s "
                f"({self.reaction_window_s})"
            )
        return self

    @model_validator(mode="after")
    def _reading_steps_in_order(self) -> Self:
        if self.reading_min_step >= self.reading_max_step:
            raise ValueError(
                f"reading_min_step ({self.reading_min_step}) must be < reading_max_step ({self.reading_max_step})"
            )
        return self
