"""Audience metrics on clips composed from real photos, with exact ground truth.

Scripted people (signage.perception.clips.Script) walk by, stop to watch, turn their back, leave and come back,
up to six at once. Each clip runs through the real perception (YuNet, face mesh and iris via the
PerceptionScheduler), the tracker, the profiler (attributes and re-id) and the audience stage, exactly as
`signage run` chains them, and the viewers it closes are compared with the metric definitions applied to the
script (`truth_visits`): passers-by and watchers within 5% of the truth, dwell and attention within 0.5 s per
visit (the test holds them to 0.15 s). Identity switches, new ids on a return, false tracks and coverage are kept
per clip in a golden file (tests/data/audience_clips_golden.json) that fails the test when any gets worse;
SIGNAGE_UPDATE_GOLDEN=1 rewrites it.

Every face in these clips looks at the camera (flat portraits cannot turn their head convincingly): turning away is
shown as the back of the head, which face-only perception cannot see, so a person turned away is unseen, as the
metric definitions say.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from signage.audience import AudienceStage
from signage.config import Config
from signage.ids import new_id
from signage.perception.attributes import FaceAttributes
from signage.perception.clips import (
    Actor,
    FaceSource,
    Script,
    TruthVisit,
    load_sources,
    render_script,
    truth_visits,
)
from signage.perception.profiles import TrackProfiler
from signage.perception.reid import FaceEmbedder, ReidMemory
from signage.perception.scheduler import PerceptionScheduler
from signage.records import PlayRecord, Status, ViewerRecord
from signage.tracking import PersonDetections, Tracker
from signage.tracking.geometry import body_from_face
from signage.tracking.scenes import Scorer
from signage.types import Observation

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "audience_clips_golden.json"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CONFIG = Config()
# The issue asks for 0.5 s per visit. Dwell starts at a track's first sighting (Tracks.seen_for_s), so every visit
# measures to the frame (1/15 s); two frames of slack keep the test about bias, not about rounding.
DWELL_TOLERANCE_S = 0.15
COUNT_TOLERANCE = 0.05

# Sources (load_sources order): 0/1 astronaut and mirror, 2/3 Grace Hopper, 4/5 Obama, 6/7 Trump.
SCRIPTS = (
    Script(
        name="walk_by",
        duration_s=6.0,
        seed=1,
        actors=(
            Actor(source=0, path=((0.3, 50, 80, 58), (2.0, 430, 80, 58))),  # crosses in 1.7 s, facing
            Actor(source=2, path=((0.8, 420, 280, 64), (1.5, 300, 280, 64))),  # a short glance: passer-by only
            Actor(source=4, path=((1.5, 40, 180, 66), (2.5, 200, 180, 68), (4.5, 230, 180, 70), (5.5, 440, 175, 70))),
            Actor(source=6, path=((3.0, 380, 290, 60), (3.25, 360, 290, 60))),  # too brief to count
            Actor(source=3, path=((3.5, 440, 285, 62), (5.8, 60, 285, 62))),
        ),
    ),
    Script(
        name="crowd_6",
        duration_s=5.0,
        seed=2,
        actors=(
            Actor(source=0, path=((0.2, 80, 95, 66), (4.8, 90, 100, 68))),
            Actor(source=2, path=((0.4, 240, 90, 64), (4.5, 230, 95, 66))),
            Actor(source=4, path=((0.6, 400, 95, 68), (3.0, 390, 100, 70))),
            Actor(source=6, path=((0.8, 80, 265, 70), (4.2, 95, 262, 72))),
            Actor(source=1, path=((1.0, 240, 270, 66), (4.9, 250, 268, 66))),
            Actor(source=3, path=((1.2, 400, 265, 64), (3.8, 385, 268, 66))),
        ),
    ),
    Script(
        name="turn_and_return",
        duration_s=7.0,
        seed=3,
        actors=(
            # watches, turns their back for 1.5 s (unseen longer than lost_after_s: two visits), watches again
            Actor(source=0, path=((0.3, 110, 110, 66), (6.7, 120, 115, 66)), turned=((2.5, 4.0),)),
            # watches, leaves the picture for 2 s and comes back: two visits, the second a returning viewer
            Actor(source=4, path=((0.5, 360, 110, 70), (6.5, 370, 105, 70)), away=((2.0, 4.0),)),
            # glances away for 0.3 s: one visit, the facing streak unbroken
            Actor(source=2, path=((0.3, 240, 275, 64), (6.5, 250, 270, 64)), turned=((3.0, 3.3),)),
            # walks past at the bottom right
            Actor(source=6, path=((4.5, 440, 285, 58), (5.4, 330, 285, 58))),
        ),
    ),
    Script(
        name="brief_turns",
        duration_s=5.0,
        seed=4,
        actors=(
            # Each turns their back for 0.6-0.8 s, shorter than the tracker keeps a lost track (max_unseen_s) and
            # than lost_after_s: each is one visit with one id.
            Actor(source=0, path=((0.3, 110, 110, 66), (4.7, 120, 115, 66)), turned=((2.0, 2.8),)),
            Actor(source=4, path=((0.3, 360, 110, 66), (4.7, 370, 115, 66)), turned=((2.0, 2.6),)),
            Actor(source=2, path=((0.3, 240, 275, 64), (4.7, 250, 270, 64)), turned=((2.0, 2.7),)),
        ),
    ),
)


@dataclass(frozen=True)
class Measured:
    """One closed viewer, with the actor its track followed most (-1: a track on no actor) and its time span."""

    record: ViewerRecord
    actor: int
    first_s: float
    last_s: float


@dataclass(frozen=True)
class ClipResult:
    script: Script
    viewers: tuple[Measured, ...]
    tracking: dict[str, float | int]


def run_clip(script: Script, sources: list[FaceSource], profiler: TrackProfiler) -> ClipResult:
    perception = PerceptionScheduler.from_config(CONFIG)
    tracker = Tracker(CONFIG.tracking)
    stage = AudienceStage(CONFIG.audience, session_id="clip", model_versions=",".join(perception.model_versions))
    play = PlayRecord(new_id(), "clip", new_id(), "item", T0, 0.0)
    scorer = Scorer()
    actor_frames: dict[int, Counter[int]] = {}  # track id → actor → frames matched
    spans: dict[str, tuple[int, float, float]] = {}  # viewer id → (track id, first seen, last seen)
    records: list[object] = []
    t = 0.0
    for shot in render_script(script, sources):
        t = shot.frame.t_mono
        analysis = perception.analyze(shot.frame)
        tracks = tracker.update(
            PersonDetections.from_faces(analysis.detections, analysis.head_pose, analysis.gaze), shot.frame.t_mono
        )
        tracks = profiler.annotate(shot.frame, analysis.detections, tracks, t)
        truth = {k: body_from_face(box[None].astype(np.float64))[0] for k, box in shot.faces.items()}
        for actor, track_id in scorer.add(tracks, truth).items():
            actor_frames.setdefault(track_id, Counter())[actor] += 1
        update = stage.update(Observation(t_mono=t, t_utc=T0 + timedelta(seconds=t), tracks=tracks), play)
        records.extend(update.records)
        for viewer in update.snapshot.viewers:
            spans[viewer.viewer_id] = (viewer.track_id, viewer.first_seen_mono, viewer.last_seen_mono)
    end = t + CONFIG.audience.lost_after_s
    records.extend(stage.close_all(end, T0 + timedelta(seconds=end)).records)
    viewers = []
    for record in records:
        if isinstance(record, ViewerRecord) and record.status is Status.CLOSED:
            track_id, first, last = spans[record.viewer_id]
            counts = actor_frames.get(track_id)
            actor = counts.most_common(1)[0][0] if counts else -1
            viewers.append(Measured(record, actor, first, last))
    # A track that followed one person and then another (a newcomer taking over a coasting track): MOT's identity
    # switches miss it (each person kept one id), the visits do not.
    shared = sum(1 for counts in actor_frames.values() if len(counts) > 1)
    return ClipResult(script, tuple(viewers), {**scorer.finish().as_json(), "tracks_on_two_people": shared})


@pytest.fixture(scope="module")
def results() -> dict[str, ClipResult]:
    sources = load_sources(DATA)
    attributes, embedder = FaceAttributes.from_config(CONFIG), FaceEmbedder.from_config(CONFIG)
    # A fresh re-id memory per clip: the same portraits appear in several clips, as different people.
    return {
        script.name: run_clip(
            script,
            sources,
            TrackProfiler(attributes=attributes, embedder=embedder, memory=ReidMemory.from_config(CONFIG)),
        )
        for script in SCRIPTS
    }


def _truth(script: Script) -> tuple[TruthVisit, ...]:
    settings = CONFIG.audience
    return truth_visits(
        script,
        lost_after_s=settings.lost_after_s,
        max_gap_s=settings.max_gap_s,
        passer_by_min_s=settings.passer_by_min_s,
        watcher_min_s=settings.watcher_min_s,
    )


def _pairs(result: ClipResult) -> list[tuple[TruthVisit, list[Measured]]]:
    """Each truth visit with the measured viewers of the same actor whose time span overlaps it."""
    pairs = []
    for visit in _truth(result.script):
        found = [
            m
            for m in result.viewers
            if m.actor == visit.actor and m.first_s <= visit.last_s and m.last_s >= visit.first_s
        ]
        pairs.append((visit, found))
    return pairs


def table(results: dict[str, ClipResult]) -> str:
    """Truth against measured, per visit and per clip (printed with the failures, and by `pytest -s`)."""
    lines = [f"{'clip':<16} {'actor':>5} {'dwell truth/meas':>18} {'attention truth/meas':>22} {'pb':>5} {'w':>5}"]
    for name, result in results.items():
        for visit, found in _pairs(result):
            m = found[0].record if len(found) == 1 else None
            measured_dwell = f"{m.dwell_s:.2f}" if m else f"{len(found)} viewers"
            measured_attention = f"{m.attention_s:.2f}" if m else "-"
            pb = f"{int(visit.passer_by)}/{int(m.is_passer_by)}" if m else "-"
            w = f"{int(visit.watcher)}/{int(m.is_watcher)}" if m else "-"
            lines.append(
                f"{name:<16} {visit.actor:>5} {visit.dwell_s:>8.2f}/{measured_dwell:<9} "
                f"{visit.attention_s:>11.2f}/{measured_attention:<10} {pb:>5} {w:>5}"
            )
        truth = _truth(result.script)
        lines.append(
            f"{name:<16} total: passers-by {sum(v.passer_by for v in truth)}/"
            f"{sum(m.record.is_passer_by for m in result.viewers)}, watchers {sum(v.watcher for v in truth)}/"
            f"{sum(m.record.is_watcher for m in result.viewers)}, tracking {result.tracking}"
        )
    return "\n".join(lines)


def test_the_clips_have_what_they_claim() -> None:
    """Up to six people at once; turned and away visits; the script truth has visits of each kind."""
    crowd = next(s for s in SCRIPTS if s.name == "crowd_6")
    assert max(sum(a.in_view(t) for a in crowd.actors) for t in crowd.times().tolist()) == 6
    visits = [v for s in SCRIPTS for v in _truth(s)]
    assert any(not v.passer_by for v in visits) and any(v.passer_by and not v.watcher for v in visits)
    assert sum(v.watcher for v in visits) >= 10
    turn_and_return = _truth(next(s for s in SCRIPTS if s.name == "turn_and_return"))
    assert Counter(v.actor for v in turn_and_return) == {0: 2, 1: 2, 2: 1, 3: 1}


def test_passers_by_and_watchers_within_five_percent(results: dict[str, ClipResult]) -> None:
    truth = [v for s in SCRIPTS for v in _truth(s)]
    measured = [m.record for r in results.values() for m in r.viewers]
    for name, true_count, measured_count in (
        ("passers-by", sum(v.passer_by for v in truth), sum(r.is_passer_by for r in measured)),
        ("watchers", sum(v.watcher for v in truth), sum(r.is_watcher for r in measured)),
    ):
        assert abs(measured_count - true_count) <= COUNT_TOLERANCE * true_count, (
            f"{name}: measured {measured_count}, truth {true_count}\n{table(results)}"
        )


def test_dwell_and_attention_within_half_a_second_per_visit(results: dict[str, ClipResult]) -> None:
    misses = []
    for name, result in results.items():
        for visit, found in _pairs(result):
            if not visit.passer_by:
                continue  # too brief to count: a track may not even start (it needs a few sightings)
            if len(found) != 1:
                misses.append(f"{name} actor {visit.actor}: {len(found)} viewers for one visit")
                continue
            record = found[0].record
            if abs(record.dwell_s - visit.dwell_s) > DWELL_TOLERANCE_S:
                misses.append(f"{name} actor {visit.actor}: dwell {record.dwell_s:.2f} vs {visit.dwell_s:.2f}")
            if abs(record.attention_s - visit.attention_s) > DWELL_TOLERANCE_S:
                misses.append(
                    f"{name} actor {visit.actor}: attention {record.attention_s:.2f} vs {visit.attention_s:.2f}"
                )
            if (record.is_passer_by, record.is_watcher) != (visit.passer_by, visit.watcher):
                misses.append(f"{name} actor {visit.actor}: passer-by/watcher differ")
    assert not misses, "\n".join(misses) + "\n" + table(results)


def test_a_returning_viewer_is_recognised_and_nobody_else_is(results: dict[str, ClipResult]) -> None:
    """Re-id (RAM only) marks the second visits (after turning away for 1.5 s, and after leaving for 2 s), and no
    first visit."""
    result = results["turn_and_return"]
    returning = sorted((m.actor, m.first_s > 3.9) for m in result.viewers if m.record.returning)
    assert returning == [(0, True), (1, True)], table(results)
    assert sum(not m.record.returning for m in result.viewers) == 4


def test_with_re_id_off_no_embedding_is_made_and_visits_still_count_by_track(
    results: dict[str, ClipResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`perception.reid_enabled = false`: the re-id model is never loaded nor run; nobody is returning; passers-by,
    watchers, dwell and attention are what they are with re-id on."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the re-id embedder was used with re-id off")

    monkeypatch.setattr(FaceEmbedder, "from_config", forbidden)
    monkeypatch.setattr(FaceEmbedder, "embed", forbidden)
    monkeypatch.setattr(FaceEmbedder, "__init__", forbidden)
    config = CONFIG.model_copy(update={"perception": CONFIG.perception.model_copy(update={"reid_enabled": False})})
    profiler = TrackProfiler.from_config(config)
    assert not profiler.reid_enabled
    script = next(s for s in SCRIPTS if s.name == "turn_and_return")
    off = run_clip(script, load_sources(DATA), profiler)
    on = results[script.name]
    assert not any(m.record.returning for m in off.viewers)
    assert all(m.record.mood_confidence > 0 for m in off.viewers if m.record.is_watcher)  # attributes still run

    def summary(result: ClipResult) -> list[tuple[int, bool, bool, float, float]]:
        return sorted(
            (m.actor, m.record.is_passer_by, m.record.is_watcher, round(m.record.dwell_s, 2), round(m.first_s, 2))
            for m in result.viewers
        )

    assert summary(off) == summary(on)


def test_tracking_on_the_clips_does_not_get_worse_than_the_golden_file(results: dict[str, ClipResult]) -> None:
    scores: dict[str, dict[str, float | int]] = {}
    for name, result in results.items():
        extra = sum(1 for m in result.viewers if m.actor < 0 and m.record.is_passer_by)
        scores[name] = {**result.tracking, "ghost_passers_by": extra}
    if os.environ.get("SIGNAGE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert set(golden) == set(scores), "clips were added or removed: update the golden file"
    worse = []
    for name, score in scores.items():
        kept = golden[name]
        for key in ("id_switches", "new_ids_on_return", "false_tracks", "tracks_on_two_people", "ghost_passers_by"):
            if score[key] > kept[key]:
                worse.append(f"{name}.{key}: {score[key]} > golden {kept[key]}")
        if score["coverage"] < kept["coverage"] - 0.005:
            worse.append(f"{name}.coverage: {score['coverage']} < golden {kept['coverage']}")
    assert not worse, "tracking on the clips got worse:\n" + "\n".join(worse) + "\n" + table(results)
