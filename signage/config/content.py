"""[content]: where the content pool lives."""

from __future__ import annotations

from pydantic import Field

from signage.config.base import Section


class ContentConfig(Section):
    pool: str = Field(
        default="content/pool.toml", min_length=1, description="Content pool manifest (TOML); paths are relative to it."
    )
