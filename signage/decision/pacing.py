"""Guaranteed minimum and maximum shares, paced on measured delivery.

A share is the part of a local day's measured seconds on screen that went to a scope's items (an item, an
advertiser, a category). Pacing compares what was delivered so far with the target and aims `margin` inside the
bounds, so the day ends inside them even though a decision cannot be taken back:
- a scope is *behind* while its seconds are below (min_share + margin) of the day's seconds: decisions are then
  narrowed to behind scopes' items (for every arm, control included, so the guarantee holds on the whole screen);
- an item is *over* a max share when playing it now would lift its scope above (max_share - margin), judged on at
  least `warmup_s` seconds so the first minutes of a day are not all refused.
When min and max are close, the margin shrinks to half the gap so the two aims never contradict each other.
"""

from __future__ import annotations


def effective_margin(margin: float, min_share: float | None, max_share: float | None) -> float:
    if min_share is not None and max_share is not None:
        return min(margin, (max_share - min_share) / 2)
    return margin


def behind_min_share(*, delivered_s: float, total_s: float, min_share: float, margin: float) -> bool:
    """True while the scope has had less than its guaranteed share (plus margin) of today's seconds."""
    return min_share > 0 and (total_s == 0 or delivered_s < (min_share + margin) * total_s)


def over_max_share(
    *, delivered_s: float, total_s: float, duration_s: float, max_share: float, margin: float, warmup_s: float
) -> bool:
    """True when playing `duration_s` more would lift the scope above its max share (minus margin)."""
    projected = (delivered_s + duration_s) / max(total_s + duration_s, warmup_s)
    return projected > max(0.0, max_share - margin)
