"""The audience stage: viewer states, attention metrics and lifecycle events from tracks."""

from signage.audience.stage import AudienceStage, AudienceUpdate

__all__ = ["AudienceStage", "AudienceUpdate"]
