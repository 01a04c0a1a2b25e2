"""The gapless player, offscreen: every presented frame is checked against what the player says is on screen.

Definitions used throughout (the test items are solid colours, none of them dark):
- a frame is **black** if any pixel has every channel <= 16 (darker than the letterbox colour);
- a frame is **partial** if any pixel is not explained by the items the player reports on screen for that frame:
  with one item every pixel equals its colour (±2); during a crossfade the whole frame is one blend
  α·new + (1−α)·old (±2) with 0 < α < 1; during a slide every column is wholly old or new, the new columns form
  a non-empty right-hand block and the old ones a non-empty left-hand block.
Because the reported set is checked on every frame, an item visible one frame before its STARTED event or one
frame after its ENDED event fails the test, so logged play times match presented frames exactly.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pygame
import pytest

from signage.config.player import PlayerConfig
from signage.player import (
    LETTERBOX_COLOR,
    FrameReport,
    GaplessPlayer,
    PlayerState,
    PlayEventKind,
    Transition,
    Urgency,
)
from signage.player.pacing import FrameRateMeter
from signage.player.state import IllegalMoveError, Move, PlayerStateMachine
from signage.types import ContentItem, ContentKind

SIZE = (320, 180)
FPS = 30
DT = 1.0 / FPS
COLORS = ((220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 200, 40), (200, 60, 220), (40, 210, 210))
SAMPLE_POOL = Path(__file__).resolve().parent.parent / "content" / "pool.toml"


def pixels(surface: pygame.Surface) -> npt.NDArray[np.int16]:
    return np.asarray(pygame.surfarray.array3d(surface)).transpose(1, 0, 2).astype(np.int16)


def solid_items(tmp_path: Path, colors: tuple[tuple[int, int, int], ...] = COLORS) -> list[ContentItem]:
    items = []
    for index, color in enumerate(colors):
        surface = pygame.Surface(SIZE)
        surface.fill(color)
        path = tmp_path / f"solid{index}.png"
        pygame.image.save(surface, str(path))
        items.append(ContentItem(f"solid{index}", str(path), ContentKind.IMAGE, 5.0, "Acme", "food", title="Solid"))
    return items


def make_player(**overrides: object) -> GaplessPlayer:
    settings: dict[str, object] = {"width": SIZE[0], "height": SIZE[1], "fps": FPS, "transition_s": 0.2}
    settings.update(overrides)
    return GaplessPlayer(PlayerConfig.model_validate(settings), headless=True)


@pytest.fixture
def player() -> Iterator[GaplessPlayer]:
    with make_player() as p:
        yield p


@dataclass
class FrameAuditor:
    """Checks each presented frame against the reported on-screen items and keeps the proof-of-play log."""

    colors: dict[str, tuple[int, int, int]]
    on_screen: list[tuple[str, str]] = field(default_factory=list)  # (decision id, item id), oldest first
    started: dict[str, int] = field(default_factory=dict)  # decision id → first frame
    ended: dict[str, int] = field(default_factory=dict)  # decision id → last frame
    skipped: set[str] = field(default_factory=set)
    times: dict[int, float] = field(default_factory=dict)
    frames: int = 0
    blends: int = 0
    slides: int = 0

    def check(self, report: FrameReport, frame: pygame.Surface) -> None:
        k = report.frame
        assert k == self.frames, "frames are numbered without gaps"
        self.times[k] = report.t_mono
        for event in report.events:
            key = (event.decision_id, event.item_id)
            if event.kind is PlayEventKind.ENDED:
                assert event.frame == k - 1 and event.t_mono == self.times[k - 1]
                assert key in self.on_screen, f"{key} ended but was not on screen"
                self.on_screen.remove(key)
                self.ended[event.decision_id] = event.frame
            elif event.kind is PlayEventKind.STARTED:
                assert event.frame == k and event.t_mono == report.t_mono
                assert event.decision_id not in self.started, "a decision starts once"
                self.on_screen.append(key)
                self.started[event.decision_id] = k
            else:
                self.skipped.add(event.decision_id)
        self._check_pixels(np.asarray(pygame.surfarray.array3d(frame)).transpose(1, 0, 2))
        self.frames += 1

    def _check_pixels(self, frame: npt.NDArray[np.uint8]) -> None:
        assert frame.shape == (SIZE[1], SIZE[0], 3)
        # Solid items and column-wise transitions give identical rows: prove it, then check one row exactly.
        assert (frame == frame[:1]).all(), f"frame {self.frames}: rows differ (a partial draw?)"
        row = frame[0].astype(np.int16)
        assert not np.any(np.all(row <= 16, axis=1)), f"frame {self.frames}: black pixels"
        assert 1 <= len(self.on_screen) <= 2, f"frame {self.frames}: {self.on_screen} on screen"
        if len(self.on_screen) == 1:
            expected = np.array(self.colors[self.on_screen[0][1]], np.int16)
            assert np.abs(row - expected).max() <= 2, f"frame {self.frames}: not wholly {self.on_screen}"
            return
        old = np.array(self.colors[self.on_screen[0][1]], np.int16)
        new = np.array(self.colors[self.on_screen[1][1]], np.int16)
        columns_old = np.all(np.abs(row - old) <= 2, axis=1)
        columns_new = np.all(np.abs(row - new) <= 2, axis=1)
        if (columns_old | columns_new).all() and not np.array_equal(old, new):
            boundary = int(np.argmax(columns_new))  # first column of the new item
            assert 0 < boundary < SIZE[0], f"frame {self.frames}: a slide frame shows only one item"
            assert columns_old[:boundary].all() and columns_new[boundary:].all(), "slide is not two blocks"
            self.slides += 1
            return
        # A crossfade: one alpha for the whole frame, strictly between the two items.
        span = (new - old).astype(np.float64)
        alpha = float(np.dot(row.mean(axis=0) - old, span) / np.dot(span, span)) if np.dot(span, span) else 0.5
        assert 0.0 < alpha < 1.0, f"frame {self.frames}: crossfade alpha {alpha:.3f} outside (0, 1)"
        assert np.abs(row - (old + alpha * span)).max() <= 2.5, f"frame {self.frames}: not one uniform blend"
        self.blends += 1


def run_frames(player: GaplessPlayer, auditor: FrameAuditor, now: float, count: int) -> float:
    for _ in range(count):
        auditor.check(player.present(now), player.last_frame())
        now += DT
    return now


def test_hundreds_of_switches_crossfades_slides_and_preemptions_never_show_a_bad_frame(tmp_path: Path) -> None:
    items = solid_items(tmp_path)
    rng = random.Random(4)
    auditor = FrameAuditor(colors={item.item_id: tuple(int(c) for c in COLORS[i]) for i, item in enumerate(items)})
    shown: list[str] = []
    with make_player(min_display_s=0.3) as player:
        for item in items:
            assert player.wait_ready(item, timeout_s=10.0)
        now = 100.0
        for index in range(400):
            item = rng.choice(items)
            transition = rng.choice(list(Transition))
            urgency = rng.choices(list(Urgency), weights=(6, 3, 1))[0]
            decision_id = f"d{index}"
            player.show(item, decision_id=decision_id, transition=transition, urgency=urgency)
            shown.append(decision_id)
            # Sometimes the next decision comes mid-transition or before the last one reached the screen.
            now = run_frames(player, auditor, now, rng.choice((0, 1, 2, 3, 5, 8, 12)))
        now = run_frames(player, auditor, now, 30)
        final_events = player.close()
    for event in final_events:
        assert event.kind is PlayEventKind.ENDED and event.frame == auditor.frames - 1
        auditor.ended[event.decision_id] = event.frame
    assert auditor.frames > 1500
    assert auditor.blends > 200 and auditor.slides > 200, (auditor.blends, auditor.slides)
    assert set(auditor.started) | auditor.skipped == set(shown)
    assert not set(auditor.started) & auditor.skipped
    assert set(auditor.ended) == set(auditor.started), "every play that started has ended"
    assert all(auditor.started[d] <= auditor.ended[d] for d in auditor.started)
    assert len(auditor.started) > 200


def test_a_preloaded_item_reaches_the_screen_on_the_next_frame(player: GaplessPlayer, tmp_path: Path) -> None:
    first, second = solid_items(tmp_path)[:2]
    player.show(first, decision_id="a")
    player.present(1.0)
    player.present(1.0 + DT)
    assert player.wait_ready(second, timeout_s=10.0)
    expected_frame = player.frames_presented
    player.show(second, decision_id="b", transition=Transition.CUT)
    report = player.present(1.0 + 2 * DT)
    assert [(e.kind, e.decision_id, e.frame) for e in report.events] == [
        (PlayEventKind.STARTED, "b", expected_frame),
        (PlayEventKind.ENDED, "a", expected_frame - 1),
    ]
    assert tuple(pixels(player.last_frame())[90, 160]) == COLORS[1]


def test_crossfade_moves_through_named_states(player: GaplessPlayer, tmp_path: Path) -> None:
    first, second = solid_items(tmp_path)[:2]
    player.wait_ready(second, timeout_s=10.0)
    names = []
    player.show(first, decision_id="a")
    now = 0.0
    for _ in range(3):
        names += [c.name for c in player.present(now).state_changes]
        now += DT
    player.show(second, decision_id="b", transition=Transition.CROSSFADE)
    states = []
    for _ in range(10):
        report = player.present(now)
        names += [c.name for c in report.state_changes]
        states.append(report.state)
        now += DT
    assert names == [Move.FIRST_ITEM, Move.BEGIN_TRANSITION, Move.COMPLETE_TRANSITION]
    transition_frames = states.count(PlayerState.TRANSITIONING)
    assert transition_frames == round(0.2 * FPS) - 1  # 0.2 s at 30 fps: 5 blended frames, the 6th is wholly new
    assert states[-1] is PlayerState.PLAYING


def test_preempt_waits_for_the_minimum_display_time_and_immediate_does_not(tmp_path: Path) -> None:
    first, second, third = solid_items(tmp_path)[:3]
    with make_player(min_display_s=1.0, transition="cut") as player:
        for item in (first, second, third):
            player.wait_ready(item, timeout_s=10.0)
        player.show(first, decision_id="a")
        player.present(10.0)
        player.show(second, decision_id="b", urgency=Urgency.PREEMPT)
        now, started_at = 10.0, None
        while started_at is None:
            now += DT
            report = player.present(now)
            started_at = next((e.t_mono for e in report.events if e.kind is PlayEventKind.STARTED), None)
        assert 1.0 <= started_at - 10.0 < 1.0 + 1.5 * DT
        player.show(third, decision_id="c", urgency=Urgency.IMMEDIATE)
        report = player.present(now + DT)
        assert [e.decision_id for e in report.events if e.kind is PlayEventKind.STARTED] == ["c"]


def test_immediate_cuts_through_a_running_crossfade(player: GaplessPlayer, tmp_path: Path) -> None:
    items = solid_items(tmp_path)[:3]
    for item in items:
        player.wait_ready(item, timeout_s=10.0)
    player.show(items[0], decision_id="a")
    player.present(0.0)
    player.show(items[1], decision_id="b", transition=Transition.CROSSFADE)
    assert player.present(DT).state is PlayerState.TRANSITIONING
    player.show(items[2], decision_id="c", urgency=Urgency.IMMEDIATE)
    report = player.present(2 * DT)
    assert report.state is PlayerState.PLAYING
    assert [c.name for c in report.state_changes] == [Move.PREEMPT]
    assert {(e.kind, e.decision_id) for e in report.events} == {
        (PlayEventKind.STARTED, "c"),
        (PlayEventKind.ENDED, "a"),
        (PlayEventKind.ENDED, "b"),
    }
    assert np.abs(pixels(player.last_frame()) - np.array(COLORS[2])).max() <= 2


def test_a_newer_show_skips_the_queued_item(player: GaplessPlayer, tmp_path: Path) -> None:
    items = solid_items(tmp_path)[:3]
    player.show(items[0], decision_id="a")
    player.present(0.0)
    player.show(items[1], decision_id="b")
    player.show(items[2], decision_id="c", transition=Transition.CUT)
    player.wait_ready(items[2], timeout_s=10.0)
    events = [e for t in (DT, 2 * DT) for e in player.present(t).events]
    assert (PlayEventKind.SKIPPED, "b") in {(e.kind, e.decision_id) for e in events}
    assert "b" not in {e.decision_id for e in events if e.kind is PlayEventKind.STARTED}
    assert player.showing is not None and player.showing.decision_id == "c"


def test_nothing_queued_keeps_the_current_item(player: GaplessPlayer, tmp_path: Path) -> None:
    item = solid_items(tmp_path)[0]
    player.show(item, decision_id="a")
    for frame in range(100):
        report = player.present(frame * DT)
        assert report.events == () or frame == 0
    assert np.abs(pixels(player.last_frame()) - np.array(COLORS[0])).max() <= 2


@pytest.mark.parametrize("problem", ["missing", "corrupt-image", "corrupt-video", "empty-video"])
def test_broken_files_never_blank_the_screen(tmp_path: Path, caplog: pytest.LogCaptureFixture, problem: str) -> None:
    good = solid_items(tmp_path)[0]
    kind = ContentKind.VIDEO if "video" in problem else ContentKind.IMAGE
    path = tmp_path / ("broken.mp4" if kind is ContentKind.VIDEO else "broken.png")
    if problem.startswith("corrupt"):
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a real file" * 20)
    elif problem == "empty-video":
        path.write_bytes(b"")
    broken = ContentItem("broken-ad", str(path), kind, 5.0, "Acme", "food", title="Broken Ad")
    with make_player(transition="crossfade") as player, caplog.at_level(logging.WARNING, "signage.player"):
        now = 0.0
        for index in range(6):
            item = broken if index % 2 else good
            # Preloaded, as the engine does: the 10 frames below take no real time, a load on a busy machine does.
            assert player.wait_ready(item, timeout_s=10)
            player.show(item, decision_id=f"d{index}")
            for _ in range(10):
                report = player.present(now)
                now += DT
                array = pixels(player.last_frame())
                assert not np.any(np.all(array <= 16, axis=2)), "black pixels"
                for event in report.events:
                    if event.kind is PlayEventKind.STARTED:
                        assert bool(event.fallback_reason) == (event.item_id == "broken-ad")
            if item is broken:  # the transition is over: the item's title card, with its text, fills the screen
                assert len(np.unique(array.reshape(-1, 3), axis=0)) > 10
                assert not np.any(np.all(np.abs(array - np.array(COLORS[0])) <= 2, axis=2))
    warnings = [r.getMessage() for r in caplog.records if r.name == "signage.player"]
    assert len(warnings) == 1, warnings
    assert "broken-ad" in warnings[0] and str(path) in warnings[0]


def test_sample_video_plays_loops_and_play_once_holds(tmp_path: Path) -> None:
    video = ContentItem(
        "clip", str(SAMPLE_POOL.parent / "videos" / "coffee.mp4"), ContentKind.VIDEO, 8.0, "Bean", "food"
    )
    results = {}
    for loop in (True, False):
        # A long wait for late frames: the test clock outruns real time, so every frame must be the one due.
        with make_player(video_loop=loop, video_wait_s=1.0) as player:
            player.show(video, decision_id="v")
            seen = []
            for frame in range(0, 130, 2):  # 4.3 s at 30 fps, sampled every other frame
                player.present(frame * DT)
                seen.append(pixels(player.last_frame()))
            results[loop] = seen
    looping, once = results[True], results[False]
    assert not np.array_equal(looping[0], looping[10]), "the video moves"
    for frame in looping + once:  # the card has black text shadows, so: never mostly dark
        assert np.all(frame <= 16, axis=2).mean() < 0.05 and frame.mean() > 40
    # 3 s loop: 90 display frames later (45 samples) the same picture is back (lossy codec: nearly equal).
    assert np.abs(looping[0] - looping[45]).mean() < 2.0
    assert np.abs(once[0] - once[45]).mean() > 2.0, "play-once does not wrap around"
    assert np.array_equal(once[50], once[60]), "play-once holds its last frame"


def test_fit_modes_place_a_wide_image_differently(tmp_path: Path) -> None:
    wide = pygame.Surface((400, 100))
    wide.fill((200, 30, 30))
    pygame.draw.rect(wide, (30, 30, 200), (0, 0, 40, 100))  # a blue stripe on the left edge
    path = tmp_path / "wide.png"
    pygame.image.save(wide, str(path))
    item = ContentItem("wide", str(path), ContentKind.IMAGE, 5.0, "Acme", "food")
    frames = {}
    for mode in ("letterbox", "fill", "fit"):
        with make_player(fit=mode) as player:
            player.show(item, decision_id="w")
            player.present(0.0)
            frames[mode] = pixels(player.last_frame())
    letterbox, fill, fit = frames["letterbox"], frames["fill"], frames["fit"]
    assert tuple(letterbox[5, 160]) == LETTERBOX_COLOR and tuple(letterbox[90, 160]) == (200, 30, 30)
    assert tuple(letterbox[90, 10]) == (30, 30, 200), "letterbox keeps the whole picture"
    assert tuple(fill[5, 160]) == (200, 30, 30), "fill covers the screen"
    assert tuple(fill[90, 2]) == (200, 30, 30), "fill crops the left edge (the stripe) away"
    assert tuple(fit[5, 160]) == (200, 30, 30) and tuple(fit[90, 10]) == (30, 30, 200), "fit stretches"


def test_overlay_key_toggles_the_overlay(player: GaplessPlayer, tmp_path: Path) -> None:
    item = solid_items(tmp_path)[0]
    player.show(item, decision_id="a")
    player.present(0.0, ["item a", "viewers 2"])
    with_overlay = pixels(player.last_frame())
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_o))
    player.present(DT, ["item a", "viewers 2"])
    without = pixels(player.last_frame())
    assert np.any(with_overlay != without)
    assert np.abs(without - np.array(COLORS[0])).max() <= 2


def test_quit_keys_are_reported(player: GaplessPlayer, tmp_path: Path) -> None:
    player.show(solid_items(tmp_path)[0], decision_id="a")
    assert player.present(0.0).quit_requested is False
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
    assert player.present(DT).quit_requested is True


def test_state_machine_refuses_illegal_moves() -> None:
    machine = PlayerStateMachine()
    with pytest.raises(IllegalMoveError, match="'complete_transition' is not allowed in state 'idle'"):
        machine.move(Move.COMPLETE_TRANSITION, frame=0, t_mono=0.0)
    change = machine.move(Move.FIRST_ITEM, frame=0, t_mono=1.0)
    assert (change.before, change.after) == (PlayerState.IDLE, PlayerState.PLAYING)
    machine.move(Move.CLOSE, frame=1, t_mono=2.0)
    with pytest.raises(IllegalMoveError):
        machine.move(Move.CUT, frame=2, t_mono=3.0)


def test_closed_player_refuses_to_show(tmp_path: Path) -> None:
    player = make_player()
    player.close()
    assert player.close() == ()
    with pytest.raises(RuntimeError, match="closed"):
        player.show(solid_items(tmp_path)[0], decision_id="a")


def test_player_reports_the_rate_it_really_presents(player: GaplessPlayer, tmp_path: Path) -> None:
    item = solid_items(tmp_path)[0]
    player.show(item, decision_id="a")
    assert player.presented_fps == 0.0, "no rate before two frames"
    for index in range(6):
        player.present(index * DT, ["item a"])
        time.sleep(0.02)
    assert 10.0 < player.presented_fps < 60.0, "six frames about 20 ms apart present at roughly 40-50 fps"


def test_frame_rate_meter_counts_only_its_window() -> None:
    meter = FrameRateMeter(window_s=1.0)
    for index in range(31):
        meter.tick(index / 30)
    assert meter.fps == pytest.approx(30.0)
    for index in range(1, 11):
        meter.tick(1.0 + index / 10)  # the rate falls to 10 fps; older stamps leave the window
    assert meter.fps == pytest.approx(10.0, rel=0.05)
    with pytest.raises(ValueError):
        FrameRateMeter(window_s=0)
