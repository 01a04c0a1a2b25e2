"""[rules]: what operators set around the learning policy: schedules, caps, shares, kill switches, arms.

Per-item rules live here, keyed by item id, advertiser or category, so the content pool stays a list of media:

```toml
[rules]
blocked_categories = ["politics"]

[rules.dayparts]
breakfast = [{ start = "06:00", end = "11:00" }]
late = [{ days = ["fri", "sat"], start = "22:00", end = "02:00" }]   # crosses midnight: belongs to fri/sat

[rules.items.coffee]
dayparts = ["breakfast"]
max_plays_per_hour = 6

[rules.advertisers."Market Hall"]
min_share = 0.2          # of the seconds on screen in each local day

[rules.categories.alcohol]
start_date = 2026-03-01  # local dates, both inclusive
end_date = 2026-03-31
```

Validation here is pure (no pool lookups): keys that name items, advertisers or categories missing from the content
pool are errors raised when the decision engine compiles the rules against the pool.

An item's schedule, flight dates and shares can also be set in the content pool (`schedule`, `start_date`,
`end_date`, `share_min`, `share_max` on its `[[item]]`): for that item each key the pool sets replaces the same key
here (a pool schedule replaces `windows` and `dayparts`); caps and kill switches are set here only.

The control arm (`control_share`) is capped and paced on its own delivery: it may start its share of each cap's
plays (the learner the rest, the screen never more than the cap), and min/max shares are paced on the control
arm's seconds and on the learner's separately, so they hold on both and on the whole screen.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from signage.config.base import Section

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def minutes_of(hhmm: str) -> int:
    """Minutes after local midnight of an 'HH:MM' wall-clock time ('24:00' is 1440)."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class WindowConfig(Section):
    """A weekly wall-clock window in the store's time zone; `end` at or before `start` crosses midnight."""

    days: list[Weekday] = Field(default=list(WEEKDAYS), min_length=1, description="Days the window starts on.")
    start: str = Field(default="00:00", description="Local start time HH:MM (inclusive).")
    end: str = Field(default="24:00", description="Local end time HH:MM (exclusive); 24:00 is midnight.")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected a local time HH:MM between 00:00 and 24:00, got {value!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> WindowConfig:
        if self.start == "24:00":
            raise ValueError("start: 24:00 is the end of a day; start at 00:00 instead")
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: the window is empty")
        return self


class ScopeRulesConfig(Section):
    """Rules for the items of one item id, one advertiser or one category. Shares count seconds on screen per
    local day; caps count plays started (per rolling hour, per local day)."""

    killed: bool = Field(default=False, description="Kill switch: never show these items.")
    start_date: date | None = Field(default=None, description="First local date the items may play.")
    end_date: date | None = Field(default=None, description="Last local date the items may play.")
    dayparts: list[str] = Field(default_factory=list, description="Named dayparts when the items may play.")
    windows: list[WindowConfig] = Field(default_factory=list, description="More windows when the items may play.")
    max_plays_per_hour: int | None = Field(default=None, ge=0, le=3600, description="Cap in any rolling hour.")
    max_plays_per_day: int | None = Field(default=None, ge=0, le=86_400, description="Cap per local day.")
    min_share: float | None = Field(default=None, ge=0, le=1, description="Guaranteed share of seconds on screen.")
    max_share: float | None = Field(default=None, ge=0, le=1, description="Largest share of seconds on screen.")

    @model_validator(mode="after")
    def _consistent(self) -> ScopeRulesConfig:
        if self.min_share is not None and self.max_share is not None and self.min_share > self.max_share:
            raise ValueError(f"min_share {self.min_share} is above max_share {self.max_share}")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self


class RulesConfig(Section):
    screen_killed: bool = Field(
        default=False, description="Kill switch for the whole screen: only the fallback item plays."
    )
    blocked_categories: list[str] = Field(default_factory=list, description="Categories never shown on this screen.")
    restricted_categories: list[str] = Field(
        default=["alcohol", "tobacco", "gambling"],
        description="Categories treated as restricted (besides items flagged so): never shown when a minor may be "
        "present, an age is uncertain, or the camera is out.",
    )
    control_share: float = Field(
        default=0.1, ge=0, le=1, description="Share of decisions made by the plain playlist (the control arm)."
    )
    exploration_floor: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of learner decisions picked uniformly among eligible items, so every item keeps a chance.",
    )
    no_repeat: bool = Field(default=True, description="Never show a present viewer an item they already watched.")
    no_repeat_window_min: float = Field(
        default=30.0, gt=0, le=1440, description="How long a viewer's watched items are remembered (RAM only)."
    )
    no_repeat_min_attention_s: float = Field(
        default=1.0, ge=0, le=120, description="Attention on an item after which it counts as watched."
    )
    share_margin: float = Field(
        default=0.02, ge=0, le=0.5, description="Pacing aims this far inside every min/max share."
    )
    pacing_warmup_s: float = Field(
        default=600.0, ge=0, le=86_400, description="Max shares are judged on at least this many seconds per day."
    )
    dayparts: dict[str, list[WindowConfig]] | None = Field(
        default=None, description="Named dayparts: lists of windows, referred to by name from item rules."
    )
    items: dict[str, ScopeRulesConfig] | None = Field(default=None, description="Rules per item id.")
    advertisers: dict[str, ScopeRulesConfig] | None = Field(default=None, description="Rules per advertiser.")
    categories: dict[str, ScopeRulesConfig] | None = Field(default=None, description="Rules per category.")

    @model_validator(mode="after")
    def _references(self) -> RulesConfig:
        known = set(self.dayparts or {})
        problems = []
        for kind, scopes in (("items", self.items), ("advertisers", self.advertisers), ("categories", self.categories)):
            total_min = 0.0
            for key, scope in (scopes or {}).items():
                problems += [f"{kind}.{key}.dayparts: unknown daypart {d!r}" for d in scope.dayparts if d not in known]
                total_min += scope.min_share or 0.0
            if total_min > 1.0 + 1e-9:  # 0.05 + 0.55 + 0.3 + 0.1 is 1.0000000000000002 in floats
                problems.append(f"{kind}: min_share values add up to {total_min:g}, more than the whole screen")
        if problems:
            raise ValueError("; ".join(problems))
        return self
