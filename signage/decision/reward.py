"""What an exposure's reward is: the learner's objective, set by the operator (`[decision] reward`).

- `attention_s`: the viewer's attention seconds on the item (the default; the learner reads them in units of
  `learner_reward_scale_s`).
- `held`: 1 when the viewer's attention reached the hold threshold (`[audience] hold_threshold_s`), else 0: every
  viewer who stopped counts the same, however long they stayed.
- `duration_weighted`: the share of the item's length the viewer watched (attention seconds over the item's
  duration, at most 1), so a long item does not win by being long: a 6 s item watched whole earns what a 30 s
  item watched whole does.

The reward is worked out when the exposure closes, logged on the exposure row (`exposures.reward`, what off-policy
evaluation sums) and taught to the policy that made the decision.
"""

from __future__ import annotations

from signage.config.decision import RewardKind

__all__ = ["RewardKind", "exposure_reward", "reward_scale"]


def exposure_reward(kind: RewardKind, *, attention_s: float, held: bool, item_duration_s: float) -> float:
    """The reward of one closed exposure under `kind`."""
    if kind == "held":
        return 1.0 if held else 0.0
    if kind == "duration_weighted":
        return min(1.0, attention_s / item_duration_s) if item_duration_s > 0 else 0.0
    return attention_s


def reward_scale(kind: RewardKind, attention_scale_s: float) -> float:
    """The reward that counts as 1 for a learner: `learner_reward_scale_s` for seconds, 1 for the other kinds
    (already between 0 and 1, about as large as seconds over the scale are on a typical store)."""
    return attention_scale_s if kind == "attention_s" else 1.0
