"""Readers in the virtual store: watchers of an item with a detail page sometimes read it (a gaze of reading
sweeps that the audience stage recognises), watchers of other items never do, and people who do not watch have
no gaze. The gaze has its own random stream: adding it changed no one's behaviour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from signage.audience import AudienceStage
from signage.config import AudienceConfig
from signage.config.sim import SimConfig
from signage.records import EventRecord
from signage.sim import VirtualStore
from signage.types import ContentItem, ContentKind, Observation, ViewerStatus

START = datetime(2024, 6, 3, 10, 30, tzinfo=UTC)
AD = ContentItem("ad", "ad.png", ContentKind.IMAGE, 8.0, "bean co", "coffee", ("drinks", "hot"), detail_id="ad-more")
MORE = ContentItem("ad-more", "more.png", ContentKind.IMAGE, 15.0, "bean co", "coffee", ("drinks", "info"))
PLAIN = ContentItem("plain", "plain.png", ContentKind.IMAGE, 8.0, "bean co", "coffee", ("drinks", "hot"))


def run(showing: ContentItem, seconds: float = 900.0) -> tuple[list[Observation], int, int]:
    """Observations, reading starts seen by the audience stage, and viewer-ticks spent READING."""
    config = SimConfig(seed=9, arrivals_per_hour=900.0, reading_share=0.6)
    store = VirtualStore(config, start_utc=START, timezone="Europe/Paris", items=(AD, MORE, PLAIN))
    stage = AudienceStage(AudienceConfig(), session_id="s", model_versions="sim")
    observations, starts, reading_ticks = [], 0, 0
    for k in range(round(seconds / config.tick_s)):
        t = k * config.tick_s
        observation = store.step(t, START + timedelta(seconds=t), showing)
        observations.append(observation)
        update = stage.update(observation, None)
        starts += sum(1 for r in update.records if isinstance(r, EventRecord) and r.payload.get("reading") is True)
        reading_ticks += sum(v.status is ViewerStatus.READING for v in update.snapshot.viewers)
    return observations, starts, reading_ticks


def test_watchers_of_an_item_with_a_detail_page_read_and_others_do_not() -> None:
    with_page, starts, ticks = run(AD)
    assert starts >= 5 and ticks > 100, (starts, ticks)
    without_page, plain_starts, plain_ticks = run(PLAIN)
    # Watchers of the plain item still have a gaze (looking the picture over): the detector is rarely fooled by it.
    assert plain_starts * 5 <= starts and plain_ticks * 5 <= ticks, (plain_starts, plain_ticks)
    assert any(np.isfinite(o.tracks.gaze).any() for o in without_page if o.tracks.gaze is not None)
    # Gaze only for people facing the screen: a person turned away has none.
    for observation in with_page:
        gaze, pose = observation.tracks.gaze, observation.tracks.head_pose
        assert gaze is not None and gaze.shape == (len(observation.tracks), 2)
        has_gaze = np.isfinite(gaze[:, 0])
        assert np.all(np.abs(pose[has_gaze, 0]) < 25.0)
        assert np.all(np.abs(gaze[has_gaze, 0]) <= 25.0), "gaze stays on the screen"
