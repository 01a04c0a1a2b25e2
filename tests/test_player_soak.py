"""Soak: the whole sample pool (stills, videos, text) played through hundreds of crossfades on an accelerated clock,
with memory that stops growing once every item has been seen."""

from __future__ import annotations

from pathlib import Path

from signage.config.player import PlayerConfig
from signage.content import load_pool
from signage.player import GaplessPlayer, PlayEventKind

SAMPLE_POOL = Path(__file__).resolve().parent.parent / "content" / "pool.toml"


def resident_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def test_long_accelerated_run_keeps_memory_flat() -> None:
    pool = load_pool(SAMPLE_POOL)
    config = PlayerConfig(width=320, height=180, fps=30, transition_s=0.2, cache_items=4)  # a small cache: evictions
    dt = 1 / 30
    started = ended = 0
    with GaplessPlayer(config, headless=True) as player:
        now, baseline = 0.0, 0.0
        for index in range(360):
            item = pool.items[index % len(pool)]
            assert player.wait_ready(item, timeout_s=10.0)  # as the engine does: preload, then show
            player.show(item, decision_id=f"d{index}")
            for _ in range(8):  # each item on screen for 8 frames of the accelerated clock
                report = player.present(now)
                now += dt
                started += sum(e.kind is PlayEventKind.STARTED for e in report.events)
                ended += sum(e.kind is PlayEventKind.ENDED for e in report.events)
            if index == 60:  # every item seen five times: caches and decoders are warm
                baseline = resident_mb()
        grown = resident_mb() - baseline
    assert started == 360 and ended == 359
    assert grown < 25, f"resident memory grew {grown:.1f} MB over 300 switches"
