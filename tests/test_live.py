"""The live engine: `signage run` on a video composed from real photos, end to end into SQLite; a fake camera that
fails during a run; and no frame, crop or embedding written to disk over a whole run."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from signage.capture import CameraState, CameraSupervisor
from signage.capture.fake import FakeCameraDevice, FakeMode, wait_until
from signage.cli import main
from signage.clock import SystemClock
from signage.config import CaptureConfig, Config
from signage.content import ContentPool
from signage.decision import Decider, RoundRobinPolicy
from signage.engine import Engine, PlayListener, RunSummary
from signage.live import LiveSource
from signage.perception.clips import FaceSource, load_sources, paste_face
from signage.perception.pipeline import FacePipeline
from signage.perception.reid import ReidMemory
from signage.player import GaplessPlayer
from signage.store import StoreWriter
from signage.tracking import Tracker
from signage.types import ContentItem, ContentKind, Observation, Tracks

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FPS = 15.0
CLIP_S = 9.0


@dataclass(frozen=True)
class Visit:
    """One person in the clip: a face from `source`, in view from enter_s to leave_s, moving between two points."""

    source: int
    enter_s: float
    leave_s: float
    start: tuple[float, float]
    end: tuple[float, float]
    face_h: float

    def frames(self) -> range:
        return range(round(self.enter_s * FPS), round(self.leave_s * FPS))

    @property
    def dwell_s(self) -> float:
        """First to last frame in view: what a perfect tracker would measure."""
        frames = self.frames()
        return (frames[-1] - frames[0]) / FPS


VISITS = (
    Visit(source=0, enter_s=0.5, leave_s=6.0, start=(180, 240), end=(250, 250), face_h=120),
    Visit(source=4, enter_s=3.0, leave_s=8.5, start=(470, 210), end=(430, 230), face_h=100),
)


def write_clip(path: Path, sources: list[FaceSource], visits: tuple[Visit, ...]) -> None:
    """An MJPG test input: people (real photos) walking in and out of a smooth background, every face towards the
    camera, so each visit's truth is dwell = attention = its time in view."""
    width, height = 640, 480
    ramp = np.linspace(60, 190, width, dtype=np.float32)[None, :, None]
    shade = np.linspace(0.8, 1.1, height, dtype=np.float32)[:, None, None]
    background = np.clip(ramp * shade + np.array([0, 10, 20], np.float32), 0, 255).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (width, height))
    assert writer.isOpened()
    try:
        for index in range(round(CLIP_S * FPS)):
            canvas = background.copy()
            for visit in visits:
                frames = visit.frames()
                if index in frames:
                    p = (index - frames[0]) / max(1, len(frames) - 1)
                    centre = (
                        visit.start[0] + (visit.end[0] - visit.start[0]) * p,
                        visit.start[1] + (visit.end[1] - visit.start[1]) * p,
                    )
                    paste_face(canvas, sources[visit.source], centre, visit.face_h)
            writer.write(canvas)
    finally:
        writer.release()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def listing(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under the folders with its size and mtime."""
    found = {}
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    db: Path
    written: frozenset[str]  # files created or changed during the run (working folder and temp folder)
    forbidden_calls: tuple[str, ...]
    embeddings: tuple[np.ndarray, ...]  # every re-id embedding made during the run (kept here, in RAM, to look for)
    person_keys: frozenset[str]  # every anonymous re-id key handed out


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """`signage run --headless --source CLIP` once, in a fresh working folder and temp folder, with every image and
    array writer patched to record a call."""
    base = tmp_path_factory.mktemp("live")
    clip = base / "clip.avi"
    write_clip(clip, load_sources(DATA), VISITS)
    work, temp = base / "work", base / "temp"
    work.mkdir()
    temp.mkdir()
    config = work / "signage.toml"
    config.write_text(
        f"[content]\npool = {json.dumps(str(ROOT / 'content' / 'pool.toml'))}\n"
        "[player]\nwidth = 320\nheight = 180\n"
        "[capture]\nisolation = 'thread'\n",
        encoding="utf-8",
    )
    db = work / "live.db"
    calls: list[str] = []
    embeddings: list[np.ndarray] = []
    keys: set[str] = set()
    match_or_enrol = ReidMemory.match_or_enrol

    def watched(memory: ReidMemory, embedding: np.ndarray, t: float) -> str:
        embeddings.append(np.array(embedding, np.float32))
        key = match_or_enrol(memory, embedding, t)
        keys.add(key)
        return key

    def forbidden(name: str) -> Any:
        def record(*args: object, **kwargs: object) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} called during a live run")

        return record

    before = listing(work, temp)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        patch.setattr(tempfile, "tempdir", str(temp))
        patch.setenv("TMPDIR", str(temp))
        for module, name in ((cv2, "imwrite"), (cv2, "VideoWriter"), (np, "save"), (np, "savez"), (np, "savetxt")):
            patch.setattr(module, name, forbidden(f"{module.__name__}.{name}"))
        patch.setattr(ReidMemory, "match_or_enrol", watched)
        out = io.StringIO()
        patch.setattr(sys, "stdout", out)
        code = main(["run", "--headless", "--source", str(clip), "--config", str(config), "--db", str(db)])
    after = listing(work, temp)
    written = frozenset(path for path, stamp in after.items() if before.get(path) != stamp)
    return CliRun(code, out.getvalue(), db, written, tuple(calls), tuple(embeddings), frozenset(keys))


def test_run_on_a_clip_logs_plays_and_ends_with_the_file(clip_run: CliRun) -> None:
    assert clip_run.code == 0, clip_run.out
    assert "signage run:" in clip_run.out
    db = clip_run.db
    assert rows(db, "SELECT mode, status FROM sessions") == [("run", "closed")]
    started, ended = rows(db, "SELECT MIN(started_mono), MAX(ended_mono) FROM plays")[0]
    assert ended - started == pytest.approx(CLIP_S, abs=2.0)  # the run ends with the file
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE status != 'closed'") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM plays")[0][0] >= 1


def test_viewers_found_with_dwell_and_attention_close_to_the_truth(clip_run: CliRun) -> None:
    viewers = rows(
        clip_run.db, "SELECT dwell_s, attention_s, is_watcher, model_versions FROM viewers ORDER BY first_seen_utc"
    )
    assert len(viewers) == len(VISITS), viewers  # no identity switch, no ghost
    for visit, (dwell, attention, watcher, models) in zip(VISITS, viewers, strict=True):
        assert dwell == pytest.approx(visit.dwell_s, abs=0.5)
        assert attention == pytest.approx(visit.dwell_s, abs=0.5)  # every face is towards the camera
        assert watcher == 1
        assert "yunet@" in models and "face_landmark@" in models


def test_rows_are_consistent_exposures_plays_decisions(clip_run: CliRun) -> None:
    db = clip_run.db
    assert rows(db, "SELECT COUNT(*) FROM exposures")[0][0] >= len(VISITS)
    assert rows(db, "SELECT COUNT(*) FROM exposures WHERE play_id NOT IN (SELECT id FROM plays)") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM exposures WHERE viewer_id NOT IN (SELECT id FROM viewers)") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE decision_id NOT IN (SELECT id FROM decisions)") == [(0,)]
    assert rows(
        db, "SELECT COUNT(*) FROM exposures x JOIN plays p ON p.id = x.play_id WHERE x.item_id != p.item_id"
    ) == [(0,)]
    for table in ("viewers", "exposures"):
        assert rows(db, f"SELECT COUNT(*) FROM {table} WHERE attention_s > dwell_s + 1e-9") == [(0,)]
        assert rows(db, f"SELECT COUNT(*) FROM {table} WHERE status != 'closed'") == [(0,)]
    # The camera was live from its first frame: no outage, and the plays after it are measured.
    assert rows(db, "SELECT COUNT(*) FROM events WHERE kind = 'camera' AND phase = 'start'") == [(0,)]
    assert rows(db, "SELECT json_extract(payload, '$.state') FROM events WHERE kind = 'camera' LIMIT 1") == [("live",)]
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE measured = 1")[0][0] >= 1


def test_no_frame_crop_or_embedding_touches_disk(clip_run: CliRun) -> None:
    assert clip_run.forbidden_calls == ()
    allowed = {str(clip_run.db) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    # Besides the database, only the learned policy's snapshot is saved: model weights, small, no pixels.
    snapshot = clip_run.db.parent / "var" / "policy.snapshot"
    allowed.add(str(snapshot))
    assert clip_run.written and clip_run.written <= allowed, sorted(clip_run.written - allowed)
    assert snapshot.exists(), "the run saves what the policy learned when it stops"
    assert snapshot.stat().st_size < 1_000_000


def test_no_embedding_or_re_id_key_is_in_any_file_the_run_wrote(clip_run: CliRun) -> None:
    """Re-id ran (embeddings were made and keys handed out), yet neither an embedding (as float32 or float64 bytes,
    or as decimal text) nor a key is in the database or the snapshot, and the database holds no binary value."""
    assert clip_run.embeddings and clip_run.person_keys, "re-id should run on the clip's faces"
    contents = b"".join(Path(path).read_bytes() for path in clip_run.written if Path(path).is_file())
    assert contents
    for vector in clip_run.embeddings:
        for dtype in (np.float32, np.float64):
            assert vector[:4].astype(dtype).tobytes() not in contents
        assert repr(float(vector[0]))[:10].encode() not in contents
    for key in clip_run.person_keys:
        assert key.encode() not in contents
    with sqlite3.connect(clip_run.db) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                kinds = {kind for (kind,) in conn.execute(f'SELECT DISTINCT typeof("{column}") FROM {table}')}
                assert "blob" not in kinds, f"{table}.{column} holds binary data"
                assert "embedding" not in column and "person_key" not in column


# -- the fake camera during a run -----------------------------------------------------------------------------------

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
FAILURES = (FakeMode.STALL, FakeMode.ERROR, FakeMode.GARBAGE, FakeMode.UNPLUGGED)
RECOVERY_S = 5.0


def _pause(seconds: float) -> None:
    threading.Event().wait(seconds)


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_config(Config())


class StartRecorder:
    """A profiler stand-in that keeps the item starts the live source tells it about (tracks pass through)."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def item_started(self, t: float) -> None:
        self.starts.append(t)

    def annotate(self, frame: object, faces: object, tracks: Tracks, t: float) -> Tracks:
        return tracks


@dataclass(frozen=True)
class FakeRun:
    summary: RunSummary
    db: Path
    recovered: tuple[bool, ...]
    final_state: CameraState
    starts_heard: tuple[float, ...]  # play starts the engine passed on to the profiler through the live source


@pytest.fixture(scope="module")
def fake_run(pipeline: FacePipeline, tmp_path_factory: pytest.TempPathFactory) -> FakeRun:
    config = Config()
    items = tuple(
        ContentItem(item_id=f"card-{i}", path="", kind=ContentKind.TEXT, duration_s=0.5, advertiser="a", category="c")
        for i in range(3)
    )
    pool = ContentPool(base_dir=ROOT / "content", items=items)
    db = tmp_path_factory.mktemp("fake") / "fake.db"
    device = FakeCameraDevice()
    camera = CameraSupervisor(factory=device, config=FAST)
    clock = SystemClock()
    recorder = StartRecorder()
    source = LiveSource(
        camera=camera,
        analyzer=pipeline,
        tracker=Tracker(config.tracking),
        clock=clock,
        profiler=recorder,  # type: ignore[arg-type]
    )
    decider = Decider(
        RoundRobinPolicy(order=pool.ids), pool.items, timezone="Europe/Berlin", fallback_item=None, rules=config.rules
    )
    store = StoreWriter(config.store, path=db).start()
    player = GaplessPlayer(config.player.model_copy(update={"width": 160, "height": 90}), headless=True)
    for item in items:
        player.wait_ready(item, timeout_s=10)
    engine = Engine(
        config, source=source, pool=pool, decider=decider, store=store, clock=clock, screen=player, mode="run"
    )
    recovered: list[bool] = []

    def operate() -> None:
        """The field: the camera fails in three ways, each time for a while, and comes back."""
        try:
            wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
            _pause(1.0)
            for failure in FAILURES:
                device.set_mode(failure)
                wait_until(lambda: camera.state is not CameraState.LIVE, 2.0)
                _pause(1.0)
                device.set_mode(FakeMode.LIVE)
                recovered.append(wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S))
                _pause(1.0)
        finally:
            engine.stop_requested.set()

    operator = threading.Thread(target=operate, daemon=True)
    with source:
        source.wait_first_event(RECOVERY_S)
        operator.start()
        summary = engine.run_live(60.0, tick_s=1 / 15, frame_interval_s=1 / 30)
        final_state = camera.state
    operator.join(5)
    player.close()
    store.close()
    return FakeRun(summary, db, tuple(recovered), final_state, tuple(recorder.starts))


def test_the_screen_keeps_presenting_while_the_camera_fails(fake_run: FakeRun) -> None:
    summary = fake_run.summary
    assert fake_run.recovered == (True,) * len(FAILURES)
    assert fake_run.final_state is CameraState.LIVE
    assert summary.store_clean
    assert summary.frames >= summary.real_seconds * 30 * 0.5  # no stop while the camera was out
    assert summary.max_frame_gap_s < 0.5, summary


def test_the_engine_tells_the_live_source_when_each_play_starts(fake_run: FakeRun) -> None:
    """The play's own start time reaches the profiler (starts during an outage may be folded into the next one)."""
    starts = [t for (t,) in rows(fake_run.db, "SELECT started_mono FROM plays ORDER BY started_mono")]
    heard = list(fake_run.starts_heard)
    assert heard and set(heard) <= set(starts)
    assert len(heard) >= len(starts) // 2, (len(heard), len(starts))


def test_each_outage_is_one_camera_event_lifecycle(fake_run: FakeRun) -> None:
    events = rows(
        fake_run.db,
        "SELECT phase, subject_id, json_extract(payload, '$.seq'), json_extract(payload, '$.state') FROM events "
        "WHERE kind = 'camera' ORDER BY json_extract(payload, '$.seq')",
    )
    seqs = [seq for _, _, seq, _ in events if seq is not None]
    assert seqs == list(range(1, len(seqs) + 1))  # no camera event lost
    starts = [subject for phase, subject, _, _ in events if phase == "start"]
    ends = [subject for phase, subject, _, state in events if phase == "end" and state == "live"]
    assert len(starts) == len(FAILURES) and starts == ends  # each outage opened and closed, in order


def _outages(db: Path) -> list[tuple[float, float]]:
    starts = rows(db, "SELECT subject_id, t_mono FROM events WHERE kind = 'camera' AND phase = 'start'")
    ends = dict(rows(db, "SELECT subject_id, t_mono FROM events WHERE kind = 'camera' AND phase = 'end'"))
    return [(t, ends[subject]) for subject, t in starts]


def test_plays_during_an_outage_are_unmeasured(fake_run: FakeRun) -> None:
    outages = _outages(fake_run.db)
    plays = rows(
        fake_run.db,
        "SELECT d.t_mono, p.measured, json_extract(d.context, '$.camera_ok') FROM plays p "
        "JOIN decisions d ON d.id = p.decision_id",
    )
    margin = 0.05  # a tick reads the camera's state a moment after its time stamp
    first_live = rows(
        fake_run.db,
        "SELECT MIN(t_mono) FROM events WHERE kind = 'camera' AND json_extract(payload, '$.state') = 'live'",
    )[0][0]
    inside = [m for t, m, _ in plays if any(a + margin < t < b - margin for a, b in outages)]
    outside = [
        m for t, m, _ in plays if t > first_live + margin and all(t < a - margin or t > b + margin for a, b in outages)
    ]
    assert inside and outside
    assert set(inside) == {0} and set(outside) == {1}
    assert all(bool(m) == bool(ok) for _, m, ok in plays)  # the decision saw the camera as the play was flagged


def test_camera_out_at_start_is_an_outage_and_plays_go_on_unmeasured(pipeline: FacePipeline, tmp_path: Path) -> None:
    device = FakeCameraDevice()
    device.set_mode(FakeMode.UNPLUGGED)
    camera = CameraSupervisor(factory=device, config=FAST)
    clock = SystemClock()
    with LiveSource(camera=camera, analyzer=pipeline, tracker=Tracker(Config().tracking), clock=clock) as source:
        first = source.wait_first_event(3.0)
        assert first is not None and first.state is CameraState.OFFLINE
        observation = source.step(clock.monotonic(), datetime.now(UTC), None)
        assert isinstance(observation, Observation) and not observation.camera_ok
        device.set_mode(FakeMode.LIVE)
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
        _pause(0.3)
        records = source.drain_records("session") + source.drain_records("session", closing=True)
    phases = [(r.phase, r.payload["state"]) for r in records]  # type: ignore[union-attr]
    assert phases[0] == ("start", "offline")
    assert phases[-1] == ("end", "live")
    assert {r.subject_id for r in records} == {records[0].subject_id}  # type: ignore[union-attr]


def test_the_profiler_hears_when_each_play_starts(pipeline: FacePipeline) -> None:
    """So the moods of the faces watching are measured again after each start (reaction to content), also when the
    same item plays again; the engine tells the live source (a `PlayListener`)."""
    camera = CameraSupervisor(factory=FakeCameraDevice(), config=FAST)
    clock = SystemClock()
    recorder = StartRecorder()
    tracker = Tracker(Config().tracking)
    source = LiveSource(camera=camera, analyzer=pipeline, tracker=tracker, clock=clock, profiler=recorder)  # type: ignore[arg-type]
    assert isinstance(source, PlayListener)
    with source:
        assert wait_until(lambda: camera.state is CameraState.LIVE, RECOVERY_S)
        for t in (2.0, 3.0, 4.0):
            source.play_started(t)
            _pause(0.3)  # the worker takes a frame or two meanwhile
    assert recorder.starts == [2.0, 3.0, 4.0]


def test_missing_model_or_video_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"[content]\npool = {json.dumps(str(ROOT / 'content' / 'pool.toml'))}\n"
        f"[perception]\nmodels_dir = {json.dumps(str(tmp_path))}\n",
        encoding="utf-8",
    )
    assert main(["run", "--headless", "--source", "0", "--config", str(config), "--db", str(tmp_path / "x.db")]) == 2
    assert "manifest" in capsys.readouterr().err
    missing = tmp_path / "nothing.avi"
    assert main(["run", "--headless", "--source", str(missing), "--db", str(tmp_path / "x.db")]) == 2
    assert f"video file {missing} not found" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_an_absent_camera_is_said_and_the_screen_plays_unmeasured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(  # the policy snapshot in the test's folder: nothing read from or left in the working folder
        f"[content]\npool = {json.dumps(str(ROOT / 'content' / 'pool.toml'))}\n"
        f"[decision]\nsnapshot_path = {json.dumps(str(tmp_path / 'policy.snapshot'))}\n"
        "[player]\nwidth = 160\nheight = 90\n[capture]\nisolation = 'thread'\n",
        encoding="utf-8",
    )
    db = tmp_path / "absent.db"
    code = main(
        ["run", "--headless", "--source", "/dev/video97", "--minutes", "0.04", "--config", str(config), "--db", str(db)]
    )
    assert code == 0
    assert "is not available" in capsys.readouterr().err
    assert rows(db, "SELECT COUNT(*), SUM(measured) FROM plays") == [(1, 0)]
    assert rows(db, "SELECT phase FROM events WHERE kind = 'camera' ORDER BY t_mono")[0] == ("start",)


def test_a_service_stop_sigterm_finishes_the_run_and_saves_what_was_learned(tmp_path: Path) -> None:
    """A service manager stops or restarts the engine with SIGTERM: like Ctrl-C, the run finishes (open rows
    closed, the session ended) and the learned state is saved, rather than dying mid-write."""
    import signal
    import subprocess
    import time

    config = tmp_path / "c.toml"
    snapshot = tmp_path / "policy.snapshot"
    config.write_text(
        f"[content]\npool = {json.dumps(str(ROOT / 'content' / 'pool.toml'))}\n"
        f"[decision]\nsnapshot_path = {json.dumps(str(snapshot))}\n"
        "[player]\nwidth = 160\nheight = 90\n[capture]\nisolation = 'thread'\n",
        encoding="utf-8",
    )
    db = tmp_path / "stopped.db"
    command = [sys.executable, "-m", "signage", "run", "--headless", "--source", "synthetic", "--minutes", "10"]
    environment = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [*command, "--config", str(config), "--db", str(db)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if db.exists() and rows(db, "SELECT COUNT(*) FROM plays")[0][0]:
                    break
            except sqlite3.Error:  # the database is being created
                pass
            time.sleep(0.5)
        assert process.poll() is None, process.communicate()[0]
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert rows(db, "SELECT status FROM sessions") == [("closed",)]
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE status != 'closed'") == [(0,)]
    assert snapshot.exists()
