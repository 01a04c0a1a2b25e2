"""[sim]: the virtual store that stands in for a camera in `signage demo`."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from signage.config.base import Section


class SimConfig(Section):
    seed: int = Field(default=7, ge=0, description="Seed of the shoppers' randomness; the same seed, the same day.")
    start_local_time: str = Field(
        default="12:00", description="Store-local time (HH:MM) at which the simulated day starts."
    )
    arrivals_per_hour: float = Field(
        default=120.0, ge=0, le=10_000, description="Mean groups passing per hour at the busiest time of day."
    )
    tick_s: float = Field(default=0.1, ge=0.02, le=1.0, description="Simulated seconds per observation tick.")
    field_width_m: float = Field(default=6.0, gt=0, le=50, description="Width of the camera's view of the aisle.")
    walk_speed_m_s: float = Field(default=1.2, gt=0, le=5, description="Mean walking speed of shoppers.")
    group_size_weights: list[float] = Field(
        default=[0.6, 0.25, 0.1, 0.05],
        min_length=1,
        max_length=8,
        description="Relative weights of group sizes 1, 2, 3, ...",
    )
    returning_share: float = Field(default=0.2, ge=0, le=1, description="Share of arrivals who are returning visitors.")
    return_same_trip_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of returning visitors who pass the screen again on the same trip (10-30 minutes after "
        "they first came by, within re-identification's memory); the others come back on a later trip.",
    )
    notice_rate_per_s: float = Field(
        default=0.08, ge=0, le=10, description="Hazard of noticing a still item, per second in view."
    )
    motion_notice_effect: float = Field(
        default=3.0, ge=1, le=20, description="How many times more often a moving item is noticed than a still one."
    )
    base_watch_s: float = Field(
        default=6.0,
        ge=4.0,
        le=120,
        description="Mean watching time of a held watch of an irrelevant item (a held watch lasts past the hold time).",
    )
    hold_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of noticings of an irrelevant item that hold attention; the rest are short looks (1-2.5 s).",
    )
    relevance_hold_effect: float = Field(
        default=2.5,
        ge=1,
        le=20,
        description="How many times more often a fully relevant item holds attention than an irrelevant one.",
    )
    relevance_duration_effect: float = Field(
        default=1.5, ge=1, le=20, description="How many times longer a fully relevant item is watched once held."
    )
    taste_likes: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Categories or tags each shopper personally likes, drawn around their age band and gender's taste "
        "(hidden individual taste: demographics explain only part of it).",
    )
    taste_like_boost: float = Field(
        default=3.0, ge=0, le=10, description="How much a liked category or tag adds to a shopper's taste (logit)."
    )
    taste_demographic_scale: float = Field(
        default=1.0,
        ge=0,
        le=3,
        description="How much age band and gender say of a shopper's taste: multiplies every demographic mean taste "
        "(0: nothing; personal likes then fall on any category alike).",
    )
    taste_bias: float = Field(
        default=-1.5,
        ge=-6,
        le=2,
        description="Mean taste (logit) of an item that nothing in a shopper's likes or demographic lifts: lower, "
        "and fewer items matter to each shopper.",
    )
    group_follow_effect: float = Field(
        default=3.0,
        ge=1,
        le=20,
        description="How many times more often someone notices the screen while a companion watches it.",
    )
    detection_miss_rate: float = Field(
        default=0.02, ge=0, le=0.5, description="Chance a present person is missed in one tick (sensor noise)."
    )
    attribute_noise: float = Field(default=0.15, ge=0, le=1, description="Chance an observed attribute band is wrong.")

    reid_recall: float = Field(
        default=0.9, ge=0, le=1, description="Share of returning shoppers that re-identification recognises."
    )
    reid_false_positive: float = Field(
        default=0.01, ge=0, le=1, description="Share of new shoppers wrongly flagged as returning."
    )
    approach_share: float = Field(
        default=0.1, ge=0, le=1, description="Share of groups that walk towards the screen instead of across."
    )
    leave_share: float = Field(
        default=0.25, ge=0, le=1, description="Share of groups that leave with their backs turned after stopping."
    )
    glance_rate_per_s: float = Field(
        default=0.05, ge=0, le=10, description="Brief glances (under a second) per second, without noticing."
    )
    unknown_age_share: float = Field(
        default=0.06, ge=0, le=1, description="Share of young-looking people whose age band stays unknown."
    )
    novelty_wear: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "How much less an item appeals to a shopper each time they watched it before (0.5: half after one "
            "watch, a quarter after two); a returning viewer wears items out."
        ),
    )
    taste_drift_sd: float = Field(
        default=0.3,
        ge=0,
        le=3,
        description="Long-run spread of the slow, shared drift of every taste weight (0: tastes never drift).",
    )
    reading_share: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Chance that a watcher of a fully relevant item with a detail page reads it (scaled by the "
        "item's appeal to them); readers watch until they have read a few lines.",
    )
    taste_drift_days: float = Field(
        default=7.0, gt=0, le=365, description="Correlation time of the taste drift, in simulated days."
    )

    @field_validator("start_local_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"expected HH:MM (00:00-23:59), got {value!r}")
        return value

    @field_validator("group_size_weights")
    @classmethod
    def _weights(cls, value: list[float]) -> list[float]:
        if any(w < 0 for w in value) or sum(value) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        return value

    @model_validator(mode="after")
    def _hold_at_most_certain(self) -> SimConfig:
        if self.hold_share * self.relevance_hold_effect > 1.0:
            raise ValueError("hold_share * relevance_hold_effect must be <= 1 (a probability of holding)")
        return self

    @model_validator(mode="after")
    def _can_cross(self) -> SimConfig:
        if self.field_width_m / self.walk_speed_m_s < 2 * self.tick_s:
            raise ValueError("field_width_m / walk_speed_m_s must allow at least two ticks in view")
        return self
