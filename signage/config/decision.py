"""[decision]: which policy picks the next item."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from signage.config.base import Section


class DecisionConfig(Section):
    policy: Literal["round_robin"] = Field(
        default="round_robin", description="The policy that picks the next item (more arrive with the bandit)."
    )
    fallback_item: str | None = Field(
        default=None, description="Item shown when nothing is eligible; the first pool item if unset."
    )
