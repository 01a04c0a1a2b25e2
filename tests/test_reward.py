"""The reward kinds an operator can choose (`[decision] reward`), one exposure at a time."""

from __future__ import annotations

import pytest

from signage.config import ConfigError, parse_config
from signage.decision.policies import build_policy
from signage.decision.reward import exposure_reward, reward_scale


@pytest.mark.parametrize(
    ("kind", "attention_s", "held", "duration_s", "expected"),
    [
        ("attention_s", 4.5, True, 8.0, 4.5),
        ("held", 4.5, True, 8.0, 1.0),
        ("held", 2.0, False, 8.0, 0.0),
        ("duration_weighted", 4.0, True, 8.0, 0.5),
        ("duration_weighted", 12.0, True, 8.0, 1.0),  # watched past its end (a video loops): at most the whole
        ("duration_weighted", 3.0, True, 0.0, 0.0),
    ],
)
def test_exposure_reward(kind: str, attention_s: float, held: bool, duration_s: float, expected: float) -> None:
    reward = exposure_reward(kind, attention_s=attention_s, held=held, item_duration_s=duration_s)  # type: ignore[arg-type]
    assert reward == pytest.approx(expected)


def test_the_learners_read_seconds_on_their_scale_and_the_other_kinds_as_they_are() -> None:
    assert reward_scale("attention_s", 10.0) == 10.0 and reward_scale("held", 10.0) == 1.0
    held = parse_config({"decision": {"reward": "held"}}).decision
    assert build_policy("contextual", items=(), config=held).reward_scale_s == 1.0  # type: ignore[attr-defined]
    assert build_policy("linucb", items=(), config=held).reward_scale_s == 1.0  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"decision\.reward"):
        parse_config({"decision": {"reward": "clicks"}})
