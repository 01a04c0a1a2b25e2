"""Hot reload of the content pool: changes are applied, a bad manifest is rejected, broken files are quarantined."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pygame
import pytest

from signage.content import PoolError
from signage.content_watch import PoolWatcher

SAMPLE = Path(__file__).resolve().parent.parent / "content"

ITEM = """
[[item]]
id = "{id}"
file = "{file}"
kind = "{kind}"
duration_s = 8
advertiser = "Acme"
category = "food"
"""


def write_image(path: Path, color: tuple[int, int, int]) -> None:
    surface = pygame.Surface((64, 36))
    surface.fill(color)
    pygame.image.save(surface, str(path))


def touch_later(path: Path, text: str | None = None, data: bytes | None = None) -> None:
    """Rewrite a file and move its mtime forward, so a change within one clock tick is still seen."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    if text is not None:
        path.write_text(text, encoding="utf-8")
    if data is not None:
        path.write_bytes(data)
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    write_image(tmp_path / "a.png", (200, 40, 40))
    write_image(tmp_path / "b.png", (40, 200, 40))
    shutil.copy(SAMPLE / "videos" / "coffee.mp4", tmp_path / "clip.mp4")
    manifest = (
        ITEM.format(id="a", file="a.png", kind="image")
        + ITEM.format(id="b", file="b.png", kind="image")
        + ITEM.format(id="clip", file="clip.mp4", kind="video")
    )
    (tmp_path / "pool.toml").write_text(manifest, encoding="utf-8")
    return tmp_path


def test_no_change_no_update_and_polls_are_throttled(pool_dir: Path) -> None:
    watcher = PoolWatcher(pool_dir / "pool.toml", interval_s=1.0)
    assert watcher.pool.ids == ("a", "b", "clip")
    assert watcher.poll(0.0) is None
    touch_later(
        pool_dir / "pool.toml",
        text=(pool_dir / "pool.toml").read_text() + ITEM.format(id="c", file="a.png", kind="image"),
    )
    assert watcher.poll(0.5) is None, "checked at most once per interval"
    update = watcher.poll(1.0)
    assert update is not None and update.pool.ids == ("a", "b", "clip", "c") and update.error is None


def test_a_bad_manifest_keeps_the_last_good_pool_and_names_the_problem(
    pool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = pool_dir / "pool.toml"
    watcher = PoolWatcher(manifest, interval_s=0.0)
    good = watcher.pool
    touch_later(manifest, text=manifest.read_text().replace("duration_s = 8", "duration_s = -1", 1))
    with caplog.at_level(logging.ERROR, logger="signage.content"):
        update = watcher.poll(1.0)
        assert watcher.poll(2.0) is None, "the same error is reported once"
    assert update is not None and update.pool is good
    assert update.error is not None and "item 0 (id 'a'): duration_s = -1" in update.error
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "keeping the last good one" in errors[0] and "duration_s = -1" in errors[0]
    touch_later(manifest, text=manifest.read_text().replace("duration_s = -1", "duration_s = 5"))
    fixed = watcher.poll(3.0)
    assert fixed is not None and fixed.error is None and fixed.pool.item("a").duration_s == 5.0


def test_broken_toml_is_rejected_too(pool_dir: Path) -> None:
    manifest = pool_dir / "pool.toml"
    watcher = PoolWatcher(manifest, interval_s=0.0)
    touch_later(manifest, text=manifest.read_text() + "[[item]\n")
    update = watcher.poll(1.0)
    assert update is not None and update.error is not None and "not valid TOML" in update.error
    assert update.pool.ids == ("a", "b", "clip")


@pytest.mark.parametrize("target", ["b.png", "clip.mp4"])
@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_a_missing_or_corrupt_file_quarantines_only_its_item(
    pool_dir: Path, caplog: pytest.LogCaptureFixture, target: str, damage: str
) -> None:
    watcher = PoolWatcher(pool_dir / "pool.toml", interval_s=0.0)
    item_id = target.split(".")[0]
    original = (pool_dir / target).read_bytes()
    if damage == "delete":
        (pool_dir / target).unlink()
    else:
        touch_later(pool_dir / target, data=b"garbage" * 100)
    with caplog.at_level(logging.INFO, logger="signage.content"):
        update = watcher.poll(1.0)
        assert watcher.poll(2.0) is None
    assert update is not None and item_id not in update.pool.ids and len(update.pool) == 2
    assert item_id in update.quarantined and target in update.quarantined[item_id]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"item {item_id} quarantined" in warnings[0] and target in warnings[0]
    touch_later(pool_dir / target, data=original)
    back = watcher.poll(3.0)
    assert back is not None and item_id in back.pool.ids and not back.quarantined


def test_the_player_can_quarantine_an_item_until_its_file_changes(pool_dir: Path) -> None:
    watcher = PoolWatcher(pool_dir / "pool.toml", interval_s=0.0)
    update = watcher.quarantine("a", "decoder failed mid-play")
    assert update is not None and update.pool.ids == ("b", "clip")
    assert watcher.quarantine("a", "again") is None
    assert watcher.poll(1.0) is None, "an unchanged file stays quarantined"
    touch_later(pool_dir / "a.png", data=(pool_dir / "a.png").read_bytes())
    back = watcher.poll(2.0)
    assert back is not None and "a" in back.pool.ids


def test_never_an_empty_pool(pool_dir: Path) -> None:
    watcher = PoolWatcher(pool_dir / "pool.toml", interval_s=0.0)
    for name in ("a.png", "b.png", "clip.mp4"):
        (pool_dir / name).unlink()
    watcher.poll(1.0)
    assert watcher.pool.ids == ("a", "b", "clip"), "every item broken: the previous pool stays"
    assert set(watcher.quarantined) == {"a", "b", "clip"}


def test_an_invalid_first_manifest_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pool.toml").write_text("[[item]]\nid = 'x'\n", encoding="utf-8")
    with pytest.raises(PoolError, match="required key is missing"):
        PoolWatcher(tmp_path / "pool.toml")


def test_a_reload_brings_new_schedules_and_shares_and_quarantine_drops_them(pool_dir: Path) -> None:
    manifest = pool_dir / "pool.toml"
    watcher = PoolWatcher(manifest, interval_s=0.0)
    assert dict(watcher.pool.item_rules) == {}
    text = manifest.read_text().replace(
        'id = "a"\n', 'id = "a"\nschedule = [{ start = "08:00", end = "12:00" }]\nshare_max = 0.4\n'
    )
    touch_later(manifest, text=text.replace('id = "b"\n', 'id = "b"\nshare_min = 0.2\n'))
    update = watcher.poll(1.0)
    assert update is not None and update.error is None
    assert update.pool.item_rules["a"].windows[0].start == "08:00" and update.pool.item_rules["a"].max_share == 0.4
    assert update.pool.item_rules["b"].min_share == 0.2
    quarantined = watcher.quarantine("a", "decoder failed")
    assert quarantined is not None and set(quarantined.pool.item_rules) == {"b"}
    touch_later(manifest, text=text.replace("share_max = 0.4", "share_max = 1.4"))
    bad = watcher.poll(2.0)
    assert bad is not None and bad.error is not None and "item 0 (id 'a'): share_max = 1.4" in bad.error
    assert set(watcher.pool.item_rules) == {"b"}, "the last good pool (and its rules) stays"
