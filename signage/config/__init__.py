"""Configuration: TOML files loaded into frozen, validated sections.

An unknown key or a bad value is an error that names the key, the value and the reason; `load_config` reports every
problem in a file at once, not just the first.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from signage.config.audience import AudienceConfig
from signage.config.base import Section
from signage.config.capture import CaptureConfig
from signage.config.content import ContentConfig
from signage.config.decision import DecisionConfig
from signage.config.perception import PerceptionConfig
from signage.config.player import PlayerConfig
from signage.config.rules import RulesConfig
from signage.config.screen import ScreenConfig
from signage.config.sim import SimConfig
from signage.config.store import StoreConfig
from signage.config.tracking import TrackingConfig

__all__ = [
    "AudienceConfig",
    "CaptureConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "ContentConfig",
    "DecisionConfig",
    "PerceptionConfig",
    "PlayerConfig",
    "RulesConfig",
    "ScreenConfig",
    "SimConfig",
    "StoreConfig",
    "TrackingConfig",
    "config_digest",
    "load_config",
    "parse_config",
]


class Config(Section):
    """The whole engine configuration; every section is optional and has defaults."""

    screen: ScreenConfig = Field(default_factory=ScreenConfig, description="This screen and its time zone.")
    store: StoreConfig = Field(default_factory=StoreConfig, description="The local SQLite database.")
    audience: AudienceConfig = Field(default_factory=AudienceConfig, description="Attention metric thresholds.")
    decision: DecisionConfig = Field(default_factory=DecisionConfig, description="Content decisions.")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Operator rules around the decisions.")
    player: PlayerConfig = Field(default_factory=PlayerConfig, description="The pygame player.")
    content: ContentConfig = Field(default_factory=ContentConfig, description="The content pool.")
    sim: SimConfig = Field(default_factory=SimConfig, description="The virtual store (demo).")
    capture: CaptureConfig = Field(default_factory=CaptureConfig, description="The camera and its watchdog.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="Anonymous person tracking.")
    perception: PerceptionConfig = Field(
        default_factory=PerceptionConfig, description="Face detection, landmarks and head pose (ONNX models)."
    )


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    value: Any
    reason: str

    def __str__(self) -> str:
        shown = "" if self.value is _MISSING else f" = {self.value!r}"
        return f"{self.key}{shown}: {self.reason}"


_MISSING: Any = object()

# Keys of earlier releases that were replaced: a config that still has one is refused with what to write instead.
REPLACED_KEYS = {
    "tracking.max_misses": "replaced by tracking.max_unseen_s, in seconds rather than frames (frames / fps)",
}


class ConfigError(Exception):
    """A config file that cannot be used; `problems` lists every reason."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid config {source}: {len(problems)} problem(s)\n{lines}")


def _problems(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden" and key in REPLACED_KEYS:
            reason = REPLACED_KEYS[key]
        elif item["type"] == "extra_forbidden":
            reason = "unknown key (check the spelling; see config/example.toml for every key)"
        else:
            reason = item["msg"].removeprefix("Value error, ")
        value = item.get("input", _MISSING)
        if isinstance(value, dict):  # a whole section: the key already says where
            value = _MISSING
        problems.append(ConfigProblem(key=key, value=value, reason=reason))
    return problems


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def load_config(path: str | Path | None) -> Config:
    """Load and validate a TOML config file; None gives the built-in defaults."""
    if path is None:
        return Config()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, [ConfigProblem("(file)", _MISSING, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [ConfigProblem("(file)", _MISSING, f"cannot read: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigProblem("(syntax)", _MISSING, f"not valid TOML: {exc}")]) from None
    return parse_config(data, source)


def config_digest(config: Config) -> str:
    """A short, stable fingerprint of a config, logged with each session."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
