"""[screen]: which screen this is and the store's local time zone."""

from __future__ import annotations

import zoneinfo

from pydantic import Field, field_validator

from signage.config.base import Section


class ScreenConfig(Section):
    id: str = Field(
        default="screen-1",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="A name for this screen, unique in the fleet; it is written with every session.",
    )
    timezone: str = Field(
        default="Europe/Berlin",
        description="IANA time zone of the store; schedules and dayparts are read in it (DST-correct).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value
