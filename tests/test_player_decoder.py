"""Video decoding off the main thread: exact frames when the consumer may wait, newest-first when it may not, a
bounded queue, display-format surfaces, and a thread that ends with its stream."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pygame
import pytest

from signage.player.decoder import DisplayLayout, StreamState, VideoStream
from signage.player.fitting import FitMode
from signage.player.media import MediaError

SIZE = (160, 90)
FPS = 10
FRAMES = 12


def level(index: int) -> int:
    return 20 + 18 * index  # frame i is solid grey at this level: distinct after lossy coding (±4)


@pytest.fixture(scope="module")
def counting_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "count.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    assert writer.isOpened()
    for index in range(FRAMES):
        writer.write(np.full((SIZE[1], SIZE[0], 3), level(index), np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def display() -> Iterator[pygame.Surface]:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    yield pygame.display.set_mode(SIZE)
    pygame.display.quit()


def shown_index(surface: pygame.Surface, screen: pygame.Surface) -> int:
    """Blit as the player does and read back which frame it was."""
    screen.blit(surface, (0, 0))
    grey = int(np.asarray(pygame.surfarray.array3d(screen)).mean())
    index = round((grey - 20) / 18)
    assert abs(grey - level(index)) <= 4, f"grey {grey} is no frame's level"
    return index


def stream(path: Path, screen: pygame.Surface, *, loop: bool, queue_frames: int = 3) -> VideoStream:
    layout = DisplayLayout.of(screen.get_masks())
    return VideoStream(path=path, screen=SIZE, mode=FitMode.FIT, loop=loop, layout=layout, queue_frames=queue_frames)


@pytest.mark.parametrize("loop", [True, False])
def test_with_a_wait_every_frame_is_exactly_the_one_due(
    counting_video: Path, display: pygame.Surface, loop: bool
) -> None:
    video = stream(counting_video, display, loop=loop)
    assert video.state is StreamState.READY
    seen = [shown_index(video.frame_at(step / 30, wait_s=2.0), display) for step in range(0, 90)]  # 3 s at 30 Hz
    due = [step * FPS // 30 for step in range(0, 90)]
    if loop:
        assert seen == [index % FRAMES for index in due]
        assert not video.finished
    else:
        assert seen == [min(index, FRAMES - 1) for index in due]
        assert video.finished and video.state is StreamState.ENDED
    video.close()
    assert video.join(2.0)


def test_late_consumer_gets_the_newest_frame_and_the_decoder_skips(
    counting_video: Path, display: pygame.Surface
) -> None:
    video = stream(counting_video, display, loop=False, queue_frames=2)
    assert shown_index(video.frame_at(0.0), display) == 0
    time.sleep(0.3)  # the decoder fills its queue, then waits for room: the queue stays bounded
    assert video.stats().queued == 2
    assert shown_index(video.frame_at(0.9, wait_s=2.0), display) == 9  # frames 1..8 are late: never shown
    stats = video.stats()
    assert stats.dropped >= 1, "frames taken from the queue late are dropped, not shown one after another"
    assert stats.skipped >= 1, "frames already late are skipped without conversion"
    assert stats.decoded <= 1 + 2 + 2, "at most the queue's frames were decoded ahead"
    indices = [shown_index(video.frame_at(0.9 + k / 30), display) for k in range(20)]  # no wait: never backwards
    assert indices == sorted(indices) and indices[0] >= 9
    video.close()
    assert video.join(2.0)


def test_frames_come_in_the_display_format(counting_video: Path, display: pygame.Surface) -> None:
    video = stream(counting_video, display, loop=True)
    surface = video.frame_at(0.0)
    assert surface.get_bitsize() == 32
    assert surface.get_masks()[:3] == display.get_masks()[:3], "a blit is a plain copy, not a conversion"
    assert not surface.get_locked()
    video.close()


def test_close_before_and_after_start(counting_video: Path, display: pygame.Surface) -> None:
    never = stream(counting_video, display, loop=True)
    never.close()
    assert never.join(0.1) and never.state is StreamState.CLOSED
    running = stream(counting_video, display, loop=True)
    running.frame_at(0.5)
    running.close()
    running.close()  # idempotent
    assert running.join(2.0)
    running.frame_at(1.0)  # a closed stream still answers with its last frame


def test_broken_files_raise_media_error(tmp_path: Path, display: pygame.Surface) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(MediaError, match="not found"):
        stream(missing, display, loop=True)
    corrupt = tmp_path / "bad.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video" * 20)
    with pytest.raises(MediaError):
        stream(corrupt, display, loop=True)
    with pytest.raises(ValueError, match="queue_frames"):
        VideoStream(path=missing, screen=SIZE, mode=FitMode.FIT, loop=True, queue_frames=0)
