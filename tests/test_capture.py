"""Capture: sources, the newest-frame slot, and the watchdog that recovers a camera failing in every usual way."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from signage.capture import (
    TRANSITIONS,
    CameraEvent,
    CameraState,
    CameraSupervisor,
    EndOfStreamError,
    Isolated,
    SourceFactory,
    SourceKind,
    SourceOpenError,
    SourceSpec,
    Transition,
    VideoFileReader,
    check_image,
    open_camera,
)
from signage.capture.fake import FakeCameraDevice, FakeMode, wait_until
from signage.config import CaptureConfig

FAST = CaptureConfig(
    stall_timeout_s=0.3,
    start_timeout_s=3.0,
    bad_reads_to_stall=3,
    restart_initial_s=0.05,
    restart_max_s=0.4,
    backoff_reset_s=0.5,
    poll_interval_s=0.02,
    isolation="thread",
)
RECOVERY_S = 5.0  # the "within a few seconds of its return" (generous: the test machine is shared)


def _pause(seconds: float) -> None:
    threading.Event().wait(seconds)


def _check_event_log(events: list[CameraEvent]) -> None:
    """No event lost (seq without gaps), each one an allowed transition continuing from the one before."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    state = CameraState.STARTING
    for event in events:
        sources, target = TRANSITIONS[event.transition]
        assert event.previous is state, event
        assert event.previous in sources and event.state is target, event
        state = event.state


# -- sources ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("0", SourceKind.CAMERA, 0),
        ("2", SourceKind.CAMERA, 2),
        ("/dev/video1", SourceKind.CAMERA, "/dev/video1"),
        ("rtsp://cam.local/stream", SourceKind.STREAM, "rtsp://cam.local/stream"),
        ("HTTP://10.0.0.2/mjpg", SourceKind.STREAM, "HTTP://10.0.0.2/mjpg"),
        ("synthetic", SourceKind.SYNTHETIC, "synthetic"),
        ("clips/store.mp4", SourceKind.FILE, "clips/store.mp4"),
    ],
)
def test_source_spec_parse(text: str, kind: SourceKind, target: int | str) -> None:
    spec = SourceSpec.parse(text)
    assert (spec.kind, spec.target) == (kind, target)
    assert spec.live is (kind is not SourceKind.FILE)


def test_empty_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        SourceSpec.parse("  ")


@pytest.mark.parametrize(
    ("image", "expected", "problem"),
    [
        (np.zeros((4, 6, 3), np.uint8), None, None),
        (None, None, "garbage frame: None"),
        (np.zeros((0, 0, 3), np.uint8), None, "garbage"),
        (np.zeros((4, 6, 3), np.float32), None, "float32"),
        (np.zeros((4, 6), np.uint8), None, "(4, 6)"),
        (np.zeros((4, 6, 4), np.uint8), None, "(4, 6, 4)"),
        ("text", None, "str"),
        (np.zeros((4, 6, 3), np.uint8), (8, 6, 3), "size changed"),
    ],
)
def test_check_image(image: object, expected: tuple[int, ...] | None, problem: str | None) -> None:
    result = check_image(image, expected)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


def test_missing_file_and_camera_fail_to_open(tmp_path: Path) -> None:
    with pytest.raises(SourceOpenError):
        SourceFactory(spec=SourceSpec.parse(str(tmp_path / "none.mp4")))()
    with pytest.raises(SourceOpenError):
        SourceFactory(spec=SourceSpec.parse("/dev/video-not-here"))()


def _write_clip(path: Path, frames: int, fps: float = 50.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((24, 32, 3), i * 10 % 256, np.uint8))
    writer.release()


def test_file_fast_hands_over_every_frame_then_stops(tmp_path: Path) -> None:
    collected: list[CameraEvent] = []
    clip = tmp_path / "clip.avi"
    _write_clip(clip, 12)
    config = FAST.model_copy(update={"source": str(clip), "file_pacing": "fast"})
    camera = open_camera(config)
    frames = []
    with camera:
        while len(frames) < 12:
            frame = camera.latest(timeout_s=2.0)
            assert frame is not None, f"frame {len(frames)} did not come"
            frames.append(frame)
            _pause(0.01)  # a slow consumer: a lossless source waits for it
        assert wait_until(lambda: camera.state is CameraState.STOPPED, 2.0)
        collected += camera.events()
    assert [f.index for f in frames] == list(range(12))
    assert all(b.t_mono > a.t_mono for a, b in itertools.pairwise(frames))
    assert camera.stats().drops == 0
    assert collected[-1].transition is Transition.END_OF_STREAM
    _check_event_log(collected)


def test_file_realtime_loop_keeps_playing(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    _write_clip(clip, 5, fps=50.0)
    camera = open_camera(FAST.model_copy(update={"source": str(clip), "loop": True}))
    with camera:
        assert wait_until(lambda: camera.stats().frames >= 15, 3.0)  # three times round a 5-frame file
        assert camera.state is CameraState.LIVE


def test_file_reader_ends(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    _write_clip(clip, 2)
    reader = SourceFactory(spec=SourceSpec.parse(str(clip)), realtime=False)()
    assert reader.read() is not None and reader.read() is not None
    with pytest.raises(EndOfStreamError):
        reader.read()
    reader.close()


def test_a_realtime_file_keeps_the_video_clock_when_its_reader_is_starved(tmp_path: Path) -> None:
    """A busy machine must not stretch a file in time (people in it would stay longer than they did)."""
    clip = tmp_path / "clip.avi"
    _write_clip(clip, 40, fps=20.0)  # 2 s of video
    reader = VideoFileReader(path=str(clip), realtime=True)
    values: list[int] = []
    started = time.monotonic()
    with pytest.raises(EndOfStreamError):
        while True:
            image = reader.read()
            assert image is not None
            values.append(int(image[0, 0, 0]))
            _pause(0.15)  # the reader's thread gets the CPU only now and then: three frame intervals late each time
    elapsed = time.monotonic() - started
    reader.close()
    assert elapsed == pytest.approx(2.0, abs=0.4), "the file ends when its video time ends, not later"
    assert reader.frames_skipped >= 20 and 8 <= len(values) <= 20, (reader.frames_skipped, len(values))


def test_synthetic_newest_frame_wins_and_drops_are_counted() -> None:
    config = FAST.model_copy(update={"source": "synthetic", "fps": 100.0, "width": 64, "height": 48})
    camera = open_camera(config)
    with camera:
        first = camera.latest(timeout_s=2.0)
        assert first is not None and first.image.shape == (48, 64, 3)
        assert not first.image.flags.writeable
        _pause(0.3)  # the consumer is busy: frames pile up and only the newest is kept
        newest = camera.latest()
        assert newest is not None and newest.index > first.index + 5
        assert camera.latest() is None  # nothing new since
        stats = camera.stats()
    assert stats.drops >= newest.index - first.index - 2
    assert stats.state is CameraState.LIVE


# -- the watchdog ----------------------------------------------------------------------------------------------


def _supervise(device: FakeCameraDevice, events: list[CameraEvent], config: CaptureConfig = FAST) -> CameraSupervisor:
    return CameraSupervisor(factory=device, config=config, on_event=events.append)


@pytest.mark.parametrize("failure", [FakeMode.STALL, FakeMode.ERROR, FakeMode.GARBAGE, FakeMode.UNPLUGGED])
def test_watchdog_marks_each_failure_and_recovers(failure: FakeMode) -> None:
    device = FakeCameraDevice()
    events: list[CameraEvent] = []
    camera = _supervise(device, events)
    with camera:
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
        device.set_mode(failure)
        assert wait_until(lambda: camera.state in (CameraState.STALLED, CameraState.OFFLINE), 2.0)
        _pause(0.3)
        assert camera.state is not CameraState.LIVE
        device.set_mode(FakeMode.LIVE)
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S), events
        before = camera.stats().frames
        assert wait_until(lambda: camera.stats().frames > before + 3, 1.0)
    _check_event_log(events)
    assert events[-1].state is CameraState.STOPPED
    assert any(e.state is CameraState.STALLED or e.state is CameraState.OFFLINE for e in events)


def test_watchdog_survives_a_long_run_of_failures() -> None:
    """Stall, raise, garbage, unplug, again and again: recovered every time, no crash, no event lost."""
    device = FakeCameraDevice()
    events: list[CameraEvent] = []
    camera = _supervise(device, events)
    drained: list[CameraEvent] = []
    with camera:
        for failure in [FakeMode.STALL, FakeMode.ERROR, FakeMode.GARBAGE, FakeMode.UNPLUGGED] * 2:
            assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S), (failure, events[-3:])
            device.set_mode(failure)
            _pause(0.5)
            device.set_mode(FakeMode.LIVE)
            drained += camera.events()
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
    drained += camera.events()
    assert drained == events  # the drained log and the listener saw the same events
    _check_event_log(events)
    assert camera.stats().restarts >= 8
    assert sum(e.transition is Transition.FIRST_FRAME for e in events) >= 9


def test_unplugged_camera_retries_with_exponential_backoff() -> None:
    device = FakeCameraDevice()
    device.set_mode(FakeMode.UNPLUGGED)
    events: list[CameraEvent] = []
    camera = _supervise(device, events)
    with camera:
        assert wait_until(lambda: sum(e.transition is Transition.RETRY for e in events) >= 5, 3.0)
        assert camera.state is not CameraState.LIVE
        device.set_mode(FakeMode.LIVE)
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
    _check_event_log(events)
    retries = [e.t_mono for e in events if e.transition is Transition.RETRY]
    gaps = [b - a for a, b in itertools.pairwise(retries)][:4]
    # 0.05 → 0.1 → 0.2 → 0.4 s (capped at restart_max_s), plus the poll and the open attempt each time
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[3] < 0.4 + 0.2


def test_a_flapping_camera_spends_its_restart_budget_then_waits_for_the_window() -> None:
    device = FakeCameraDevice()
    device.set_mode(FakeMode.GARBAGE)  # opens fine, then returns garbage: restart after restart
    events: list[CameraEvent] = []
    config = FAST.model_copy(update={"restart_budget": 3, "restart_window_s": 1.0})
    camera = _supervise(device, events, config)
    with camera:
        assert wait_until(lambda: any(e.transition is Transition.BUDGET_SPENT for e in events), 3.0)
        spent = next(e for e in events if e.transition is Transition.BUDGET_SPENT)
        assert spent.state is CameraState.OFFLINE and "3 restarts within 1 s" in spent.reason
        device.set_mode(FakeMode.LIVE)
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
    _check_event_log(events)
    restarts = [e.t_mono for e in events if e.transition is Transition.RESTART]
    # never more than the budget within one window
    assert all(sum(0 <= t - r < 1.0 for t in restarts) <= 3 for r in restarts)


def test_a_listener_that_raises_does_not_stop_the_watchdog() -> None:
    def broken_listener(event: CameraEvent) -> None:
        raise RuntimeError("listener bug")

    camera = CameraSupervisor(factory=FakeCameraDevice(), config=FAST, on_event=broken_listener)
    with camera:
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)


def test_stop_is_prompt_and_idempotent_even_with_a_hung_read() -> None:
    device = FakeCameraDevice()
    camera = CameraSupervisor(factory=device, config=FAST.model_copy(update={"stall_timeout_s": 60.0}))
    camera.start()
    assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
    device.set_mode(FakeMode.STALL)
    _pause(0.1)
    camera.stop(timeout_s=3.0)
    camera.stop()
    assert camera.state is CameraState.STOPPED
    assert camera.latest(timeout_s=0.2) in (None,) or camera.latest() is None
    with pytest.raises(RuntimeError, match="already started"):
        camera.start()


# -- isolation in a capture process ----------------------------------------------------------------------------


def test_a_camera_wedged_in_this_process_is_not_recovered_by_threads() -> None:
    device = FakeCameraDevice(wedged_per_process=True)
    events: list[CameraEvent] = []
    camera = _supervise(device, events)
    with camera:
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
        device.set_mode(FakeMode.ERROR)
        assert wait_until(lambda: camera.state is not CameraState.LIVE, 2.0)
        device.set_mode(FakeMode.LIVE)
        _pause(1.0)
        assert camera.state is not CameraState.LIVE  # every reopen here fails: the reason for process isolation
    assert any("fresh process" in e.reason for e in events)


def test_process_isolation_recovers_a_camera_that_needs_a_fresh_process() -> None:
    device = FakeCameraDevice(wedged_per_process=True)
    events: list[CameraEvent] = []
    camera = CameraSupervisor(
        factory=Isolated(factory=device, open_timeout_s=10.0), config=FAST, on_event=events.append
    )
    with camera:
        assert wait_until(lambda: camera.state is CameraState.LIVE, 15.0)
        frame = camera.latest(timeout_s=1.0)
        assert frame is not None and frame.image.shape == (48, 64, 3)
        for failure in (FakeMode.ERROR, FakeMode.STALL):
            device.set_mode(failure)
            assert wait_until(lambda: camera.state is not CameraState.LIVE, 3.0)
            device.set_mode(FakeMode.LIVE)
            # a fresh process costs a Python start-up (spawn) on top of the backoff
            assert wait_until(lambda: camera.state is CameraState.LIVE, 10.0), events[-4:]
    _check_event_log(events)
    assert device.opens >= 3


def test_process_reader_reports_open_failure() -> None:
    device = FakeCameraDevice()
    device.set_mode(FakeMode.UNPLUGGED)
    with pytest.raises(SourceOpenError, match="no such device"):
        Isolated(factory=device, open_timeout_s=10.0)()
