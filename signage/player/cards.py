"""Title cards: what a text item shows, and what replaces an item whose file cannot be shown."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import pygame

from signage.types import ContentItem

__all__ = ["CARD_COLORS", "FontCache", "render_card"]

CARD_COLORS = ((38, 70, 140), (120, 40, 90), (20, 110, 100), (150, 80, 20), (70, 50, 130), (30, 100, 60))


class FontCache:
    """pygame's default font, one object per pixel size (creating a font reads the font file)."""

    def __init__(self) -> None:
        self._fonts: dict[int, pygame.font.Font] = {}

    def get(self, size: int) -> pygame.font.Font:
        font = self._fonts.get(size)
        if font is None:
            font = self._fonts[size] = pygame.font.Font(None, size)
        return font

    def clear(self) -> None:
        self._fonts.clear()


def render_card(item: ContentItem, size: tuple[int, int], fonts: FontCache) -> pygame.Surface:
    """A full-screen card with the item's title (or id) on a colour chosen from its id, the advertiser below."""
    width, height = size
    frame = pygame.Surface(size).convert()
    frame.fill(CARD_COLORS[zlib.crc32(item.item_id.encode()) % len(CARD_COLORS)])
    font = fonts.get(max(16, height // 8))
    lines = wrap(item.title or item.item_id, font, int(width * 0.85))
    line_height = font.get_linesize()
    top = (height - line_height * len(lines)) // 2
    for index, line in enumerate(lines):
        text = font.render(line, True, (250, 250, 250))
        if text.get_width() > width - 8:  # one word wider than the screen: shrink it to fit
            scale = (width - 8) / text.get_width()
            text = pygame.transform.smoothscale(text, (width - 8, max(1, round(text.get_height() * scale))))
        frame.blit(text, text.get_rect(midtop=(width // 2, top + index * line_height)))
    if item.advertiser:
        small = fonts.get(max(12, height // 24))
        text = small.render(item.advertiser, True, (220, 220, 230))
        frame.blit(text, text.get_rect(midbottom=(width // 2, height - height // 16)))
    return frame


def wrap(text: str, font: pygame.font.Font, max_width: int) -> list[str]:
    """Greedy word wrap; a single word wider than the line stays on its own line."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and font.size(candidate)[0] > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [text]


OVERLAY_BG = (0, 0, 0, 200)


def draw_overlay(screen: pygame.Surface, font: pygame.font.Font, lines: Sequence[str]) -> None:
    """The operator overlay: light lines on a dark, translucent box in the bottom-left corner."""
    rendered = [font.render(line, True, (240, 240, 240)) for line in lines]
    pad = max(4, font.get_linesize() // 3)
    box_w = max(text.get_width() for text in rendered) + 2 * pad
    box_h = font.get_linesize() * len(rendered) + 2 * pad
    box = pygame.Surface((box_w, box_h), pygame.SRCALPHA)
    box.fill(OVERLAY_BG)
    for index, text in enumerate(rendered):
        box.blit(text, (pad, pad + index * font.get_linesize()))
    screen.blit(box, (pad, screen.get_height() - box_h - pad))
