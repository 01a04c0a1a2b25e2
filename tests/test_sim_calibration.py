"""Calibration of the virtual store against the effect sizes it is configured with, measured the way the policy
benchmark runs it: a rotating pool of still and moving items of many categories, companions drawing each other's
eyes, returning groups, default settings. This checks the simulator; it does not tune it.

- A moving item is noticed `motion_notice_effect` (3) times as often as a still one: noticing hazard per second of
  exposure. Companions multiply both alike while one of them watches (their own effect, tested in test_sim.py), so
  the ratio holds over everybody; the hazard of a still item is the configured one for people alone.
- A fully relevant item holds attention `relevance_hold_effect` (2.5) times as often as an irrelevant one: the share
  of noticings that turn into a held watch, by the viewer's appeal for the item, extrapolated to appeal 0 and 1 by a
  straight line through the data, and compared with the model in the most and least relevant fifths.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from signage.config.sim import SimConfig
from signage.sim import SimTruth, VirtualStore
from signage.sim.truth import VisitTruth
from signage.types import ContentItem, ContentKind

ROTATION_S = 8.0
POOL = tuple(
    ContentItem(f"{category}-{k}", "", ContentKind.TEXT, ROTATION_S, f"adv-{k}", category, tags=tags, motion=k % 2 == 0)
    for k, (category, tags) in enumerate(
        (
            ("toys", ("kids", "fun")),
            ("coffee", ("coffee", "morning")),
            ("finance", ("bank", "credit")),
            ("electronics", ("tech", "gaming")),
            ("health", ("vitamin", "wellness")),
            ("fashion", ("clothing", "sale")),
            ("food", ("snack", "lunch")),
            ("home", ("garden", "diy")),
        )
    )
)


@pytest.fixture(scope="module")
def run() -> tuple[SimConfig, SimTruth]:
    """A very busy hour at lunch with the pool rotating every 8 s (default effect sizes, companions and returns on)."""
    config = SimConfig(seed=21, arrivals_per_hour=3000.0, tick_s=0.2, returning_share=0.3)
    start = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
    store = VirtualStore(config, start_utc=start, timezone="Europe/Paris", items=POOL)
    for i in range(round(3600 / config.tick_s)):
        t = i * config.tick_s
        store.step(t, start + timedelta(seconds=t), POOL[int(t // ROTATION_S) % len(POOL)])
    return config, store.truth()


def _hazard(visits: list[VisitTruth], moving: bool, tick_s: float) -> float:
    """Noticing hazard per second of exposure to the still (or moving) items, from notices per tick."""
    ids = {item.item_id for item in POOL if item.motion is moving}
    notices = sum(n for v in visits for item_id, n in v.notices.items() if item_id in ids)
    exposure = sum(s for v in visits for item_id, s in v.exposure_s.items() if item_id in ids)
    assert notices > 250
    return -math.log1p(-notices / (exposure / tick_s)) / tick_s


def test_a_moving_item_is_noticed_three_times_as_often(run: tuple[SimConfig, SimTruth]) -> None:
    config, truth = run
    alone = [v for v in truth.visits if v.group_size == 1]
    everybody = list(truth.visits)
    assert _hazard(alone, False, config.tick_s) == pytest.approx(config.notice_rate_per_s, rel=0.12)
    ratio = _hazard(everybody, True, config.tick_s) / _hazard(everybody, False, config.tick_s)
    assert ratio == pytest.approx(config.motion_notice_effect, rel=0.08)  # measured 3.04
    ratio_alone = _hazard(alone, True, config.tick_s) / _hazard(alone, False, config.tick_s)
    assert ratio_alone == pytest.approx(config.motion_notice_effect, rel=0.15)  # measured 3.12 (fewer notices)


def test_relevant_content_holds_attention_two_and_a_half_times_as_often(run: tuple[SimConfig, SimTruth]) -> None:
    config, truth = run
    noticed = [(w.relevance, w.held) for w in truth.watches if w.noticed]
    assert len(noticed) > 2000
    appeal = np.array([a for a, _ in noticed])
    held = np.array([h for _, h in noticed], dtype=float)
    slope, intercept = np.polyfit(appeal, held, 1)
    assert intercept == pytest.approx(config.hold_share, rel=0.15)  # an irrelevant item: the base share
    assert (intercept + slope) / intercept == pytest.approx(config.relevance_hold_effect, rel=0.1)  # measured 2.53
    low, high = appeal <= np.quantile(appeal, 0.2), appeal >= np.quantile(appeal, 0.8)
    for mask in (low, high):
        model = config.hold_share * (1 + (config.relevance_hold_effect - 1) * appeal[mask])
        assert held[mask].mean() == pytest.approx(model.mean(), abs=0.05)
    assert held[high].mean() / held[low].mean() > 1.6  # the contrast a learner can find in the data
