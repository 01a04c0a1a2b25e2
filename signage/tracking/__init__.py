"""Tracking: anonymous ids with hysteresis; faces paired with bodies so a person keeps their id when turning."""

from signage.tracking.detections import PersonDetections
from signage.tracking.tracker import Tracker

__all__ = ["PersonDetections", "Tracker"]
