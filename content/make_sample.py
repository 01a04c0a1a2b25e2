"""Generate the sample content pool: 1280x720 PNG ad cards drawn with pygame, short video loops for the cards
with `motion = true`, detail pages (two drawn cards of facts, one text card) for three of the ads, and pool.toml.

Run from anywhere: `python content/make_sample.py`. The drawing is deterministic (no randomness, pygame's default
font), so re-running it gives the same cards and manifest. The videos are 640x360, 25 fps, 3 s loops in MPEG-4
Part 2 (`mp4v` in .mp4): a codec that OpenCV's bundled FFmpeg both writes and reads everywhere (H.264 writing
needs an encoder the wheels do not ship). Each loop is seamless: the animation phase runs once around a circle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pygame

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
VIDEOS = HERE / "videos"
SIZE = (1280, 720)
VIDEO_SIZE = (640, 360)
VIDEO_FPS = 25
VIDEO_FRAMES = 75  # 3 s
STORE = "MARKET HALL"

Color = tuple[int, int, int]
Motif = Callable[[pygame.Surface, Color], None]


@dataclass(frozen=True)
class Card:
    item_id: str
    headline: str
    subline: str
    badge: str
    top: Color
    bottom: Color
    accent: Color
    motif: str
    advertiser: str
    category: str
    tags: tuple[str, ...]
    duration_s: int
    motion: bool = False
    restricted: bool = False


# --- motifs: simple shapes in the right half of the card ---


def _coffee(s: pygame.Surface, a: Color) -> None:
    pygame.draw.ellipse(s, (245, 235, 220), (820, 560, 320, 50))
    pygame.draw.rect(s, (250, 248, 240), (860, 360, 220, 200), border_bottom_left_radius=60,
                     border_bottom_right_radius=60)  # fmt: skip
    pygame.draw.circle(s, (250, 248, 240), (1090, 430), 48, 18)
    pygame.draw.ellipse(s, (92, 52, 30), (866, 350, 208, 36))
    for i in range(3):
        x = 910 + i * 60
        points = [(x + 14 * math.sin(t / 4), 320 - t * 6) for t in range(0, 30)]
        pygame.draw.lines(s, a, False, points, 8)


def _bakery(s: pygame.Surface, a: Color) -> None:
    pygame.draw.ellipse(s, (196, 128, 58), (800, 330, 380, 220))
    pygame.draw.ellipse(s, (222, 160, 84), (820, 340, 340, 180))
    for i in range(4):
        x = 880 + i * 70
        pygame.draw.line(s, (150, 90, 36), (x, 370), (x + 40, 480), 10)
    for i, (x, y) in enumerate([(860, 600), (960, 620), (1060, 600)]):
        pygame.draw.circle(s, a, (x, y), 22 - i * 3)


def _shoes(s: pygame.Surface, a: Color) -> None:
    for i in range(5):
        y = 330 + i * 40
        pygame.draw.line(s, (255, 255, 255), (700, y), (820 - i * 15, y), 6)
    sole = [(820, 520), (1200, 520), (1210, 560), (830, 560)]
    upper = [(830, 520), (840, 400), (930, 380), (1000, 440), (1150, 460), (1200, 520)]
    pygame.draw.polygon(s, a, upper)
    pygame.draw.polygon(s, (250, 250, 250), sole)
    for i in range(4):
        pygame.draw.line(s, (255, 255, 255), (900 + i * 30, 410 + i * 10), (940 + i * 30, 440 + i * 8), 6)


def _toys(s: pygame.Surface, a: Color) -> None:
    font = pygame.font.Font(None, 120)
    blocks = [((820, 420), (230, 60, 60), "A"), ((960, 420), (60, 140, 230), "B"), ((890, 290), (250, 200, 40), "C")]
    for (x, y), color, letter in blocks:
        pygame.draw.rect(s, color, (x, y, 130, 130), border_radius=14)
        text = font.render(letter, True, (255, 255, 255))
        s.blit(text, text.get_rect(center=(x + 65, y + 68)))
    pygame.draw.circle(s, a, (1160, 500), 60)
    pygame.draw.arc(s, (255, 255, 255), (1100, 440, 120, 120), 0.3, 2.8, 8)


def _wine(s: pygame.Surface, a: Color) -> None:
    pygame.draw.polygon(s, (240, 230, 235), [(880, 260), (1040, 260), (1020, 380), (900, 380)])
    pygame.draw.ellipse(s, (240, 230, 235), (880, 320, 160, 120))
    pygame.draw.ellipse(s, (140, 20, 50), (892, 340, 136, 88))
    pygame.draw.rect(s, (240, 230, 235), (952, 430, 16, 130))
    pygame.draw.ellipse(s, (240, 230, 235), (900, 550, 120, 24))
    for i, (x, y) in enumerate([(1120, 330), (1160, 330), (1140, 368), (1100, 368), (1180, 368), (1140, 406)]):
        pygame.draw.circle(s, a if i % 2 else (120, 40, 110), (x, y), 22)


def _card(s: pygame.Surface, a: Color) -> None:
    pygame.draw.rect(s, (30, 40, 70), (800, 300, 400, 250), border_radius=24)
    pygame.draw.rect(s, a, (800, 360, 400, 50))
    pygame.draw.rect(s, (230, 200, 110), (840, 440, 70, 52), border_radius=8)
    for i in range(4):
        pygame.draw.rect(s, (200, 210, 230), (940 + i * 62, 460, 48, 14), border_radius=4)


def _phone(s: pygame.Surface, a: Color) -> None:
    pygame.draw.rect(s, (20, 20, 28), (900, 200, 230, 440), border_radius=36)
    pygame.draw.rect(s, a, (914, 230, 202, 380), border_radius=20)
    for i in range(3):
        for j in range(4):
            pygame.draw.rect(s, (255, 255, 255), (934 + i * 62, 260 + j * 70, 44, 44), border_radius=10)
    pygame.draw.circle(s, (60, 60, 70), (1015, 216), 6)


def _skincare(s: pygame.Surface, a: Color) -> None:
    pygame.draw.rect(s, (255, 255, 255), (880, 300, 150, 280), border_radius=30)
    pygame.draw.rect(s, a, (900, 380, 110, 120), border_radius=12)
    pygame.draw.rect(s, (200, 170, 180), (925, 250, 60, 56), border_radius=8)
    for i, r in enumerate((34, 24, 16)):
        pygame.draw.circle(s, (255, 255, 255), (1110 + i * 20, 360 + i * 80), r)


def _app(s: pygame.Surface, a: Color) -> None:
    _phone(s, (250, 250, 250))
    star = [(1015 + (70 if k % 2 == 0 else 30) * math.sin(k * math.pi / 5),
             420 - (70 if k % 2 == 0 else 30) * math.cos(k * math.pi / 5)) for k in range(10)]  # fmt: skip
    pygame.draw.rect(s, (250, 250, 250), (914, 230, 202, 380), border_radius=20)
    pygame.draw.polygon(s, a, star)
    font = pygame.font.Font(None, 56)
    text = font.render("+250", True, a)
    s.blit(text, text.get_rect(center=(1015, 540)))


def _sale(s: pygame.Surface, a: Color) -> None:
    font = pygame.font.Font(None, 420)
    text = font.render("%", True, a)
    s.blit(text, text.get_rect(center=(1010, 400)))
    for i in range(3):
        cx, cy = 830 + i * 170, 620
        pygame.draw.polygon(s, (255, 255, 255), [(cx - 50, cy - 26), (cx + 30, cy - 26), (cx + 56, cy),
                                                 (cx + 30, cy + 26), (cx - 50, cy + 26)])  # fmt: skip
        pygame.draw.circle(s, a, (cx + 26, cy), 7)


MOTIFS: dict[str, Motif] = {
    "coffee": _coffee,
    "bakery": _bakery,
    "shoes": _shoes,
    "toys": _toys,
    "wine": _wine,
    "card": _card,
    "phone": _phone,
    "skincare": _skincare,
    "app": _app,
    "sale": _sale,
}

CARDS = (
    Card("coffee", "Fresh Coffee", "Roasted in town, every morning", "2 for 3.50",
         (120, 66, 36), (48, 24, 14), (250, 210, 150), "coffee",
         "Bean & Leaf", "food", ("coffee", "warm", "morning"), 8, motion=True),
    Card("bakery", "Fresh Bakery", "Bread and croissants from our oven", "from 0.99",
         (236, 186, 110), (170, 96, 40), (255, 244, 214), "bakery",
         "Market Hall Bakery", "food", ("bread", "warm", "family"), 7),
    Card("running-shoes", "Run Further", "Light running shoes, all sizes", "-20%",
         (20, 110, 200), (10, 40, 90), (255, 120, 40), "shoes",
         "Stride", "sports", ("sport", "running", "discount"), 10, motion=True),
    Card("toys", "Play Time!", "New toys and games for kids", "aisle 7",
         (120, 200, 90), (40, 130, 160), (255, 90, 120), "toys",
         "Toy Box", "toys", ("kids", "family", "fun"), 9),
    Card("wine-tasting", "Wine Tasting", "Saturday 4-7 pm, adults only", "free",
         (110, 20, 50), (40, 8, 24), (200, 70, 110), "wine",
         "Vineyard Cellars", "alcohol", ("wine", "premium", "evening"), 12, restricted=True),
    Card("credit-card", "0% for 12 months", "Apply at the checkout today", "no fee",
         (30, 60, 110), (12, 20, 44), (80, 200, 200), "card",
         "North Bank", "finance", ("credit", "premium", "offer"), 9, restricted=True),
    Card("phone", "The New Phone", "Brighter screen, longer battery", "299",
         (60, 40, 120), (16, 12, 48), (90, 220, 250), "phone",
         "Nova Mobile", "electronics", ("tech", "premium", "new"), 10, motion=True),
    Card("skincare", "Glow Daily", "Gentle skincare for every skin", "-15%",
         (214, 120, 150), (130, 50, 90), (255, 196, 210), "skincare",
         "Petal", "beauty", ("beauty", "care", "discount"), 8),
    Card("loyalty-app", "Scan & Save", "Points on every purchase with our app", "+250 pts",
         (250, 150, 40), (210, 60, 40), (210, 60, 40), "app",
         "Market Hall", "store", ("app", "points", "loyalty"), 6),
    Card("weekend-sale", "Weekend Sale", "Hundreds of prices cut, Fri-Sun", "up to 50%",
         (220, 30, 60), (120, 10, 40), (255, 220, 60), "sale",
         "Market Hall", "store", ("sale", "discount", "weekend"), 6),
)  # fmt: skip

TEXT_ITEMS = (
    # A text card the player renders itself: no file needed.
    {"id": "opening-hours", "title": "Open every day 8:00-21:00", "advertiser": "Market Hall",
     "category": "store", "tags": ("info", "hours"), "duration_s": 6},
    # The detail page of the skincare ad, as a text card.
    {"id": "skincare-detail", "title": "Glow Daily: fragrance-free, for sensitive skin, 50 ml 12.90, aisle 4",
     "advertiser": "Petal", "category": "beauty", "tags": ("beauty", "info"), "duration_s": 15},
)  # fmt: skip


@dataclass(frozen=True)
class DetailPage:
    """A detail page: more information on an ad, shown when a viewer reads the ad (its `parent`)."""

    item_id: str
    parent: str
    headline: str
    lines: tuple[str, ...]
    top: Color
    bottom: Color
    accent: Color
    advertiser: str
    category: str
    tags: tuple[str, ...]
    duration_s: int = 15


DETAIL_PAGES = (
    DetailPage("coffee-detail", "coffee", "Our Coffee",
               ("Single-origin beans from Huila, Colombia", "Roasted every morning, two streets away",
                "Espresso 1.80 - Cappuccino 2.60 - Filter 1.90", "2 for 3.50 before 11:00, at the bakery counter"),
               (90, 50, 28), (36, 18, 10), (250, 210, 150), "Bean & Leaf", "food", ("coffee", "info")),
    DetailPage("phone-detail", "phone", "The New Phone in Detail",
               ('6.4" OLED screen, 20% brighter outdoors', "Two-day battery, full charge in 45 minutes",
                "128 GB from 299, 256 GB 349", "Trade in your old phone: up to 120 off"),
               (44, 30, 96), (12, 10, 36), (90, 220, 250), "Nova Mobile", "electronics", ("tech", "info")),
)  # fmt: skip

DETAILS = {page.parent: page.item_id for page in DETAIL_PAGES} | {"skincare": "skincare-detail"}
# Examples of an item's own rules (store-local times; merged with [rules.items.<id>] of the config, the pool winning)
CARD_RULES: dict[str, dict[str, object]] = {
    "wine-tasting": {"schedule": ({"start": "11:00", "end": "22:00"},)},  # alcohol ads only 11:00-22:00, every day
    "loyalty-app": {"share_min": 0.05, "share_max": 0.3},  # the store's own app: 5-30% of each day's screen time
}


def _gradient(surface: pygame.Surface, top: Color, bottom: Color) -> None:
    height = surface.get_height()
    for y in range(height):
        t = y / (height - 1)
        color = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        pygame.draw.line(surface, color, (0, y), (surface.get_width(), y))


def _shadowed(surface: pygame.Surface, font: pygame.font.Font, text: str, pos: tuple[int, int]) -> None:
    surface.blit(font.render(text, True, (0, 0, 0)), (pos[0] + 4, pos[1] + 4))
    surface.blit(font.render(text, True, (255, 255, 255)), pos)


def draw_card(card: Card, phase: float | None = None) -> pygame.Surface:
    """The card; with a `phase` (radians) an animation frame: the light band sweeps, the motif bobs, the badge
    pulses. Phase 0 and 2π give the same frame, so a loop over one turn is seamless."""
    surface = pygame.Surface(SIZE)
    _gradient(surface, card.top, card.bottom)
    # A soft diagonal band and a large circle give depth without noise (noise would bloat the PNG).
    sweep = 0 if phase is None else round(260 * math.sin(phase))
    bob = 0 if phase is None else round(14 * math.sin(2 * phase))
    band = pygame.Surface(SIZE, pygame.SRCALPHA)
    pygame.draw.polygon(
        band, (255, 255, 255, 28), [(640 + sweep, 0), (900 + sweep, 0), (560 + sweep, 720), (300 + sweep, 720)]
    )
    pygame.draw.circle(band, (*card.accent, 48), (1010, 420), 290 + bob)
    surface.blit(band, (0, 0))
    motif = pygame.Surface(SIZE, pygame.SRCALPHA)
    MOTIFS[card.motif](motif, card.accent)
    surface.blit(motif, (0, bob))

    _shadowed(surface, pygame.font.Font(None, 124), card.headline, (70, 150))
    _shadowed(surface, pygame.font.Font(None, 50), card.subline, (74, 270))
    badge_font = pygame.font.Font(None, 84)
    badge = badge_font.render(card.badge, True, (20, 20, 24))
    box = badge.get_rect(topleft=(74, 380)).inflate(56, 32)
    box.topleft = (74, 380)
    if phase is not None:
        box = box.inflate(round(10 + 10 * math.sin(3 * phase)), round(6 + 6 * math.sin(3 * phase)))
    pygame.draw.rect(surface, card.accent, box, border_radius=22)
    surface.blit(badge, badge.get_rect(center=box.center))

    pygame.draw.rect(surface, (16, 16, 22), (0, 650, SIZE[0], 70))
    footer = pygame.font.Font(None, 44)
    surface.blit(footer.render(STORE, True, (240, 240, 240)), (70, 668))
    advertiser = footer.render(card.advertiser, True, card.accent)
    surface.blit(advertiser, advertiser.get_rect(topright=(SIZE[0] - 70, 668)))
    return surface


def draw_detail(page: DetailPage) -> pygame.Surface:
    """A detail page: a headline and lines of facts, large enough to read from a few metres."""
    surface = pygame.Surface(SIZE)
    _gradient(surface, page.top, page.bottom)
    pygame.draw.rect(surface, page.accent, (70, 130, 12, 440))
    _shadowed(surface, pygame.font.Font(None, 100), page.headline, (110, 120))
    body = pygame.font.Font(None, 56)
    for index, line in enumerate(page.lines):
        y = 260 + index * 90
        pygame.draw.circle(surface, page.accent, (130, y + 18), 10)
        _shadowed(surface, body, line, (160, y))
    pygame.draw.rect(surface, (16, 16, 22), (0, 650, SIZE[0], 70))
    footer = pygame.font.Font(None, 44)
    surface.blit(footer.render(STORE, True, (240, 240, 240)), (70, 668))
    advertiser = footer.render(page.advertiser, True, page.accent)
    surface.blit(advertiser, advertiser.get_rect(topright=(SIZE[0] - 70, 668)))
    return surface


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def manifest() -> str:
    lines = [
        "# The sample content pool, generated by content/make_sample.py; content/README.md explains the keys.",
        "# schedule, start_date, end_date, share_min and share_max are an item's own rules, in the store's time zone:",
        "# for that item each key set here replaces the same key of [rules.items.<id>] in the config (caps and kill",
        "# switches stay in the config; advertiser and category rules apply on top).",
        "",
    ]
    for card in CARDS:
        table = {
            "id": card.item_id,
            "file": f"videos/{card.item_id}.mp4" if card.motion else f"images/{card.item_id}.png",
            "kind": "video" if card.motion else "image",
            "duration_s": card.duration_s,
            "advertiser": card.advertiser,
            "category": card.category,
            "tags": card.tags,
            "motion": card.motion,
            "restricted": card.restricted,
            "title": card.headline,
        }
        if card.item_id in DETAILS:
            table["detail"] = DETAILS[card.item_id]
        table |= CARD_RULES.get(card.item_id, {})
        lines += ["[[item]]", *(f"{k} = {_toml_value(v)}" for k, v in table.items()), ""]
    for page in DETAIL_PAGES:
        table = {
            "id": page.item_id,
            "file": f"images/{page.item_id}.png",
            "kind": "image",
            "duration_s": page.duration_s,
            "advertiser": page.advertiser,
            "category": page.category,
            "tags": page.tags,
            "title": page.headline,
        }
        lines += ["[[item]]", *(f"{k} = {_toml_value(v)}" for k, v in table.items()), ""]
    for text_item in TEXT_ITEMS:
        table = {"id": text_item["id"], "kind": "text", **{k: v for k, v in text_item.items() if k != "id"}}
        lines += ["[[item]]", *(f"{k} = {_toml_value(v)}" for k, v in table.items()), ""]
    return "\n".join(lines)


def write_video(card: Card, path: Path) -> None:
    """A seamless loop of the card's animation, VIDEO_FRAMES frames at VIDEO_FPS."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), VIDEO_FPS, VIDEO_SIZE)
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {path} with the mp4v codec")
    for index in range(VIDEO_FRAMES):
        frame = pygame.transform.smoothscale(draw_card(card, 2 * math.pi * index / VIDEO_FRAMES), VIDEO_SIZE)
        rgb = np.asarray(pygame.surfarray.array3d(frame)).transpose(1, 0, 2)
        writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
    writer.release()


def main() -> None:
    pygame.font.init()
    IMAGES.mkdir(parents=True, exist_ok=True)
    VIDEOS.mkdir(parents=True, exist_ok=True)
    total = 0
    for card in CARDS:
        if card.motion:
            path = VIDEOS / f"{card.item_id}.mp4"
            write_video(card, path)
            (IMAGES / f"{card.item_id}.png").unlink(missing_ok=True)
        else:
            path = IMAGES / f"{card.item_id}.png"
            pygame.image.save(draw_card(card), str(path))
        size = path.stat().st_size
        total += size
        print(f"wrote {path.relative_to(HERE.parent)} ({size // 1024} KB)")
    for page in DETAIL_PAGES:
        path = IMAGES / f"{page.item_id}.png"
        pygame.image.save(draw_detail(page), str(path))
        size = path.stat().st_size
        total += size
        print(f"wrote {path.relative_to(HERE.parent)} ({size // 1024} KB)")
    (HERE / "pool.toml").write_text(manifest(), encoding="utf-8")
    count = len(CARDS) + len(DETAIL_PAGES) + len(TEXT_ITEMS)
    print(f"wrote content/pool.toml ({count} items, media {total // 1024} KB in all)")
    pygame.font.quit()


if __name__ == "__main__":
    main()
