"""A pygame window that shows content items full screen.

The player never shows a black frame: an image that cannot be loaded (missing, corrupt) is replaced by a rendered
title card, with one warning in the log. Items are scaled to the window keeping their aspect ratio, on a dark
(non-black) letterbox. Scaled surfaces are kept in a small LRU cache so a preloaded item is presented at once.

Pacing is the caller's job: `present` draws and flips once and returns at once.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from types import TracebackType

import pygame

from signage.config.player import PlayerConfig
from signage.player.cards import FontCache, draw_overlay, render_card
from signage.player.fitting import LETTERBOX_COLOR, FitMode
from signage.player.media import MediaError, VideoPlayback
from signage.types import ContentItem, ContentKind

__all__ = ["LETTERBOX_COLOR", "PygamePlayer"]

log = logging.getLogger("signage.player")

_QUIT_KEYS = frozenset({pygame.K_ESCAPE, pygame.K_q})


class PygamePlayer:
    """Shows `ContentItem`s in a pygame window (or offscreen with `headless=True`)."""

    def __init__(self, config: PlayerConfig, *, headless: bool, cache_size: int = 16) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be >= 1, got {cache_size}")
        if headless:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        self._config = config
        self._cache_size = cache_size
        self._cache: OrderedDict[ContentItem, pygame.Surface] = OrderedDict()
        self._fonts = FontCache()
        self._frames = 0
        self._closed = False
        pygame.display.init()
        pygame.font.init()
        flags = pygame.FULLSCREEN if config.fullscreen and not headless else 0
        self._screen = pygame.display.set_mode((config.width, config.height), flags)
        pygame.display.set_caption("signage")
        if config.fullscreen and not headless:
            pygame.mouse.set_visible(False)
        self._screen.fill(LETTERBOX_COLOR)

    @property
    def size(self) -> tuple[int, int]:
        return (self._config.width, self._config.height)

    @property
    def frames_presented(self) -> int:
        return self._frames

    def preload(self, item: ContentItem) -> None:
        """Load and scale the item now (cached), so that presenting it later costs only a blit."""
        self._surface_for(item)

    def present(self, item: ContentItem, overlay_lines: Sequence[str] = ()) -> bool:
        """Show the item (and the overlay lines); False if the viewer closed the window or pressed Escape or q."""
        self._check_open()
        self._screen.blit(self._surface_for(item), (0, 0))
        if self._config.overlay and overlay_lines:
            self._draw_overlay(overlay_lines)
        pygame.display.flip()
        self._frames += 1
        return self._pump_events()

    def last_frame(self) -> pygame.Surface:
        """A copy of the frame presented last."""
        self._check_open()
        if self._frames == 0:
            raise RuntimeError("no frame has been presented yet")
        return self._screen.copy()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cache.clear()
        self._fonts.clear()
        pygame.font.quit()
        pygame.display.quit()

    def __enter__(self) -> PygamePlayer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the player is closed")

    def _surface_for(self, item: ContentItem) -> pygame.Surface:
        self._check_open()
        surface = self._cache.get(item)
        if surface is not None:
            self._cache.move_to_end(item)
            return surface
        surface = self._render(item)
        self._cache[item] = surface
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return surface

    def _render(self, item: ContentItem) -> pygame.Surface:
        if item.kind is ContentKind.TEXT:
            return self._card(item)
        if item.kind is ContentKind.VIDEO:  # this simple player shows a video's first frame (GaplessPlayer plays it)
            try:
                playback = VideoPlayback(path=item.path, screen=self.size, mode=FitMode.LETTERBOX, loop=False)
            except MediaError as exc:
                log.warning("item %s: cannot load %r (%s); showing a title card", item.item_id, item.path, exc)
                return self._card(item)
            first = playback.frame_at(0.0)
            playback.close()
            return pygame.image.frombuffer(first.tobytes(), self.size, "RGB").convert()
        try:
            image = pygame.image.load(item.path)
            if image.get_width() == 0 or image.get_height() == 0:
                raise pygame.error("image has no pixels")
            return self._letterboxed(image.convert_alpha())
        except (pygame.error, OSError) as exc:
            log.warning("item %s: cannot load %r (%s); showing a title card", item.item_id, item.path, exc)
            return self._card(item)

    def _letterboxed(self, image: pygame.Surface) -> pygame.Surface:
        width, height = self.size
        scale = min(width / image.get_width(), height / image.get_height())
        scaled_size = (max(1, round(image.get_width() * scale)), max(1, round(image.get_height() * scale)))
        scaled = pygame.transform.smoothscale(image, scaled_size)
        frame = pygame.Surface(self.size).convert()
        frame.fill(LETTERBOX_COLOR)
        frame.blit(scaled, scaled.get_rect(center=(width // 2, height // 2)))
        return frame

    def _card(self, item: ContentItem) -> pygame.Surface:
        return render_card(item, self.size, self._fonts)

    def _draw_overlay(self, lines: Sequence[str]) -> None:
        font = self._font(max(14, self._config.height // 30))
        draw_overlay(self._screen, font, lines)

    def _font(self, size: int) -> pygame.font.Font:
        return self._fonts.get(size)

    def _pump_events(self) -> bool:
        keep_going = True
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key in _QUIT_KEYS):
                keep_going = False
        return keep_going
