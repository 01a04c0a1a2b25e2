"""The pygame player, offscreen (SDL dummy driver): never a black frame, whatever the content."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pygame
import pytest

from signage.config.player import PlayerConfig
from signage.content import load_pool
from signage.player import LETTERBOX_COLOR, InstantScreen, PlayEventKind, PygamePlayer, Urgency
from signage.types import ContentItem, ContentKind

SAMPLE_POOL = Path(__file__).resolve().parent.parent / "content" / "pool.toml"
SIZE = (320, 180)


def pixels(surface: pygame.Surface) -> npt.NDArray[np.uint8]:
    """The surface as an (H, W, 3) array."""
    return np.asarray(pygame.surfarray.array3d(surface)).transpose(1, 0, 2).astype(np.uint8)


def assert_not_black(frame: pygame.Surface) -> None:
    array = pixels(frame)
    assert array.shape == (SIZE[1], SIZE[0], 3)
    assert array.max() >= 150, "no bright pixel in the frame"
    assert array.mean() >= 20, f"frame is nearly black (mean {array.mean():.1f})"


def image_item(path: Path | str, item_id: str = "x", title: str = "Hello Shoppers") -> ContentItem:
    return ContentItem(item_id, str(path), ContentKind.IMAGE, 5.0, "Acme", "food", title=title)


def warnings_from_player(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "signage.player" and r.levelno == logging.WARNING]


@pytest.fixture
def player() -> Iterator[PygamePlayer]:
    with PygamePlayer(PlayerConfig(width=SIZE[0], height=SIZE[1]), headless=True) as p:
        yield p


@pytest.mark.parametrize("item", load_pool(SAMPLE_POOL).items, ids=lambda item: item.item_id)
def test_each_sample_item_presents_a_visible_frame(
    player: PygamePlayer, item: ContentItem, caplog: pytest.LogCaptureFixture
) -> None:
    assert player.present(item) is True
    assert_not_black(player.last_frame())
    assert warnings_from_player(caplog) == []
    if item.kind is ContentKind.IMAGE:  # the image itself was shown, not a fallback card
        source = pygame.transform.smoothscale(pygame.image.load(item.path).convert(), SIZE)
        difference = np.abs(pixels(player.last_frame()).astype(int) - pixels(source).astype(int))
        assert difference.mean() < 3


def test_letterbox_keeps_aspect_on_a_dark_background(player: PygamePlayer, tmp_path: Path) -> None:
    square = pygame.Surface((100, 100))
    square.fill((200, 30, 30))
    path = tmp_path / "square.png"
    pygame.image.save(square, str(path))
    player.present(image_item(path))
    frame = pixels(player.last_frame())
    assert tuple(frame[90, 160]) == (200, 30, 30)  # centre: the image, scaled to the full height
    assert tuple(frame[90, 5]) == LETTERBOX_COLOR  # sides: the letterbox, dark but not black
    assert tuple(frame[90, 314]) == LETTERBOX_COLOR
    assert tuple(frame[90, 75]) == (200, 30, 30)  # 180 px wide square centred in 320: x from 70 to 250
    assert tuple(frame[90, 66]) == LETTERBOX_COLOR


@pytest.mark.parametrize("problem", ["corrupt", "missing"])
def test_broken_file_shows_a_card_and_warns_once(
    player: PygamePlayer, tmp_path: Path, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    path = tmp_path / "broken.png"
    if problem == "corrupt":
        path.write_bytes(b"\x89PNG garbage, not an image at all" * 10)
    item = image_item(path, item_id="broken-ad")
    with caplog.at_level(logging.WARNING, logger="signage.player"):
        assert player.present(item) is True
        assert player.present(item) is True  # cached: no second warning
    frame = player.last_frame()
    assert_not_black(frame)
    assert len({tuple(p) for p in pixels(frame).reshape(-1, 3)}) > 10, "expected a card with text, not a fill"
    warnings = warnings_from_player(caplog)
    assert len(warnings) == 1, warnings
    assert "broken-ad" in warnings[0]
    assert str(path) in warnings[0]


def test_text_item_renders_a_card(player: PygamePlayer, caplog: pytest.LogCaptureFixture) -> None:
    card = ContentItem("hours", "", ContentKind.TEXT, 6.0, "Store", "store", title="Open every day 8:00-21:00")
    other = ContentItem("hours", "", ContentKind.TEXT, 6.0, "Store", "store", title="Closed")
    player.present(card)
    first = pixels(player.last_frame())
    player.present(other)
    assert_not_black(player.last_frame())
    assert not np.array_equal(first, pixels(player.last_frame())), "the title should be drawn on the card"
    assert warnings_from_player(caplog) == []


def test_missing_video_falls_back_to_a_card(player: PygamePlayer, caplog: pytest.LogCaptureFixture) -> None:
    video = ContentItem("clip", "clip.mp4", ContentKind.VIDEO, 6.0, "Acme", "food", title="A clip")
    with caplog.at_level(logging.WARNING, logger="signage.player"):
        assert player.present(video) is True
    assert_not_black(player.last_frame())
    assert any("clip" in message for message in warnings_from_player(caplog))


def test_overlay_draws_in_a_corner(tmp_path: Path) -> None:
    item = image_item(tmp_path / "missing.png")
    results = {}
    for overlay in (True, False):
        config = PlayerConfig(width=SIZE[0], height=SIZE[1], overlay=overlay)
        with PygamePlayer(config, headless=True) as player:
            player.present(item)
            plain = pixels(player.last_frame())
            assert player.present(item, ["item: x", "viewers: 2"]) is True
            results[overlay] = (plain, pixels(player.last_frame()))
    plain, with_lines = results[True]
    changed = np.any(plain != with_lines, axis=2)
    assert changed.sum() > 200, "the overlay box should be drawn"
    rows, cols = np.nonzero(changed)
    assert rows.min() > SIZE[1] // 2 and cols.max() < SIZE[0] // 2, "the overlay belongs in the bottom-left corner"
    assert with_lines[changed].mean() < plain[changed].mean(), "the overlay box darkens what is behind it"
    plain_off, lines_off = results[False]
    assert np.array_equal(plain_off, lines_off), "config.overlay = false draws no overlay"


def test_frames_presented_counts_and_last_frame_is_a_copy(player: PygamePlayer) -> None:
    item = load_pool(SAMPLE_POOL).items[0]
    assert player.frames_presented == 0
    with pytest.raises(RuntimeError, match="no frame"):
        player.last_frame()
    for expected in (1, 2, 3):
        player.present(item)
        assert player.frames_presented == expected
    copy = player.last_frame()
    copy.fill((0, 0, 0))
    assert_not_black(player.last_frame())


@pytest.mark.parametrize(
    "event",
    [
        pygame.event.Event(pygame.QUIT),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q),
    ],
    ids=["quit", "escape", "q"],
)
def test_present_returns_false_when_the_viewer_quits(player: PygamePlayer, event: pygame.event.Event) -> None:
    item = load_pool(SAMPLE_POOL).items[0]
    assert player.present(item) is True
    pygame.event.post(event)
    assert player.present(item) is False
    assert player.present(item) is True  # the event was consumed


def test_preload_caches_and_evicts_least_recently_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = []
    for name, color in (("a", (200, 40, 40)), ("b", (40, 200, 40))):
        surface = pygame.Surface(SIZE)
        surface.fill(color)
        paths.append(tmp_path / f"{name}.png")
        pygame.image.save(surface, str(paths[-1]))
    a, b = image_item(paths[0], "a"), image_item(paths[1], "b")
    with PygamePlayer(PlayerConfig(width=SIZE[0], height=SIZE[1]), headless=True, cache_size=1) as player:
        player.preload(a)
        paths[0].unlink()
        player.present(a)  # still cached: shows the image, no warning
        assert tuple(pixels(player.last_frame())[90, 160]) == (200, 40, 40)
        assert warnings_from_player(caplog) == []
        player.preload(b)  # evicts a
        with caplog.at_level(logging.WARNING, logger="signage.player"):
            player.present(a)
        assert len(warnings_from_player(caplog)) == 1
        assert_not_black(player.last_frame())


def test_closed_player_refuses_to_present() -> None:
    with PygamePlayer(PlayerConfig(width=SIZE[0], height=SIZE[1]), headless=True) as player:
        pass
    player.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        player.present(load_pool(SAMPLE_POOL).items[0])


def test_instant_screen_keeps_the_minimum_display_time_for_a_preempting_item() -> None:
    """The screen without pixels follows the gapless player's contract: NEXT starts on the next frame, PREEMPT only
    once the item on screen was shown for `min_display_s`, IMMEDIATE at once."""
    screen = InstantScreen(min_display_s=4.0)
    items = [ContentItem(name, "", ContentKind.TEXT, 8.0, "a", "c", title=name) for name in ("a", "b", "c", "d")]
    screen.show(items[0], decision_id="d0")
    assert [e.kind for e in screen.present(0.0).events] == [PlayEventKind.STARTED]
    screen.show(items[1], decision_id="d1", urgency=Urgency.PREEMPT)
    assert screen.present(1.0).events == () and screen.present(3.9).events == ()
    started = screen.present(4.0).events
    assert [(e.kind, e.decision_id) for e in started] == [(PlayEventKind.ENDED, "d0"), (PlayEventKind.STARTED, "d1")]
    screen.show(items[2], decision_id="d2", urgency=Urgency.PREEMPT)
    screen.show(items[3], decision_id="d3", urgency=Urgency.IMMEDIATE)
    events = screen.present(4.1).events
    assert [(e.kind, e.decision_id) for e in events] == [
        (PlayEventKind.SKIPPED, "d2"),
        (PlayEventKind.ENDED, "d1"),
        (PlayEventKind.STARTED, "d3"),
    ]
