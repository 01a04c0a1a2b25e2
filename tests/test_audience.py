"""The audience stage: metrics on hand-made tracks with exact expectations."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signage.audience import AudienceStage, AudienceUpdate
from signage.config import AudienceConfig
from signage.ids import new_id
from signage.records import EventKind, EventRecord, ExposureRecord, Phase, PlayRecord, Status, ViewerRecord
from signage.types import AgeBand, Attributes, Direction, Mood, Observation, Tracks, ViewerStatus

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FACING = 5.0
AWAY = 70.0
TICK = 0.1


def tracks(
    people: Sequence[tuple[int, float]], *, group: int = -1, returning: bool = False, attrs: Attributes | None = None
) -> Tracks:
    n = len(people)
    return Tracks(
        ids=np.array([p[0] for p in people], np.int64),
        boxes=np.tile(np.array([[10, 10, 60, 200]], np.float32), (n, 1)),
        head_pose=np.array([[p[1], 0.0, 0.0] for p in people], np.float32).reshape(n, 3),
        returning=np.full(n, returning),
        group_ids=np.full(n, group, np.int64),
        attributes=tuple(attrs or Attributes() for _ in people),
        directions=tuple(Direction.STANDING for _ in people),
    )


def obs(t: float, people: Sequence[tuple[int, float]], **kwargs: object) -> Observation:
    return Observation(t_mono=t, t_utc=T0 + timedelta(seconds=t), tracks=tracks(people, **kwargs))  # type: ignore[arg-type]


def play(t: float, item: str = "a") -> PlayRecord:
    return PlayRecord(new_id(), "s", new_id(), item, T0 + timedelta(seconds=t), t)


class Run:
    """Feeds a script of ticks to a stage and keeps everything it returned."""

    def __init__(self, config: AudienceConfig | None = None) -> None:
        self.stage = AudienceStage(config or AudienceConfig(), session_id="s", model_versions="test")
        self.updates: list[AudienceUpdate] = []

    def feed(self, t: float, people: Sequence[tuple[int, float]], current: PlayRecord | None, **kw: object) -> None:
        self.updates.append(self.stage.update(obs(t, people, **kw), current))

    def finish(self, t: float) -> None:
        self.updates.append(self.stage.close_all(t, T0 + timedelta(seconds=t)))

    @property
    def records(self) -> list[object]:
        return [r for u in self.updates for r in u.records]

    def viewers_closed(self) -> list[ViewerRecord]:
        return [r for r in self.records if isinstance(r, ViewerRecord) and r.status is Status.CLOSED]

    def exposures_closed(self) -> list[ExposureRecord]:
        return [e for u in self.updates for e in u.closed_exposures]


def ticks(start: float, end: float) -> list[float]:
    return [round(start + i * TICK, 6) for i in range(round((end - start) / TICK) + 1)]


def test_watcher_after_one_second_of_facing() -> None:
    run, p = Run(), play(0)
    for t in ticks(0, 2.0):
        run.feed(t, [(1, FACING)], p)
    viewer = run.updates[-1].snapshot.viewers[0]
    assert viewer.is_watcher and viewer.is_passer_by and viewer.status is ViewerStatus.WATCHER
    assert viewer.dwell_s == pytest.approx(2.0) and viewer.attention_s == pytest.approx(2.0)
    run.finish(2.0)
    (record,) = run.viewers_closed()
    assert record.is_watcher and record.attention_s == pytest.approx(2.0)


def test_not_facing_is_a_passer_by_only() -> None:
    run, p = Run(), play(0)
    for t in ticks(0, 3.0):
        run.feed(t, [(1, AWAY)], p)
    run.finish(3.0)
    (record,) = run.viewers_closed()
    assert record.is_passer_by and not record.is_watcher and record.attention_s == 0.0


def test_too_short_to_be_a_passer_by() -> None:
    run, p = Run(), play(0)
    for t in ticks(0, 0.3):
        run.feed(t, [(1, FACING)], p)
    run.finish(0.3)
    (record,) = run.viewers_closed()
    assert not record.is_passer_by and not record.is_watcher


def test_broken_facing_does_not_make_a_watcher() -> None:
    run, p = Run(), play(0)
    script = [(t, FACING) for t in ticks(0, 0.7)] + [(t, AWAY) for t in ticks(0.8, 1.2)]
    script += [(t, FACING) for t in ticks(1.3, 2.0)]
    for t, yaw in script:
        run.feed(t, [(1, yaw)], p)
    run.finish(2.0)
    (record,) = run.viewers_closed()
    assert not record.is_watcher
    assert record.attention_s == pytest.approx(0.7 + 0.7 + 0.1, abs=1e-6)  # the tick back to facing counts


def test_a_missed_detection_does_not_break_a_streak() -> None:
    run, p = Run(), play(0)
    for t in ticks(0, 1.2):
        if not math.isclose(t, 0.5):  # the detector missed one frame
            run.feed(t, [(1, FACING)], p)
    assert run.updates[-1].snapshot.viewers[0].is_watcher


def test_viewer_leaves_after_lost_time_and_exposure_closes() -> None:
    run, p = Run(AudienceConfig(lost_after_s=1.0)), play(0)
    for t in ticks(0, 4.0):
        run.feed(t, [(1, FACING)], p)
    for t in ticks(4.1, 5.0):
        run.feed(t, [], p)
    assert run.viewers_closed() == []
    run.feed(5.1, [], p)
    (viewer,) = run.viewers_closed()
    assert viewer.dwell_s == pytest.approx(4.0)
    (exposure,) = run.exposures_closed()
    assert exposure.held and exposure.attention_s == pytest.approx(4.0) and exposure.reward == pytest.approx(4.0)
    assert exposure.ended_utc == T0 + timedelta(seconds=4.0)
    assert run.updates[-1].snapshot.viewers == ()


def test_exposures_split_at_a_switch() -> None:
    run = Run()
    first, second = play(0, "a"), play(2.0, "b")
    for t in ticks(0, 5.0):
        run.feed(t, [(1, FACING)], first if t < 2.0 else second)
    run.finish(5.0)
    a, b = run.exposures_closed()
    assert (a.item_id, b.item_id) == ("a", "b")
    assert a.dwell_s == pytest.approx(2.0) and a.attention_s == pytest.approx(2.0) and not a.held
    assert b.dwell_s == pytest.approx(3.0) and b.attention_s == pytest.approx(3.0) and b.held
    assert a.play_id == first.play_id and b.decision_id == second.decision_id


def test_no_exposure_without_a_play() -> None:
    run = Run()
    for t in ticks(0, 1.0):
        run.feed(t, [(1, FACING)], None)
    run.finish(1.0)
    assert run.exposures_closed() == []
    assert len(run.viewers_closed()) == 1


def test_group_returning_and_most_confident_attributes() -> None:
    run, p = Run(), play(0)
    sure = Attributes(age_band=AgeBand.ADULT, age_confidence=0.9)
    unsure = Attributes(age_band=AgeBand.TEEN, age_confidence=0.3)
    run.feed(0.0, [(1, AWAY), (2, AWAY)], p, group=7, attrs=unsure)
    run.feed(0.1, [(1, AWAY), (2, AWAY)], p, group=7, attrs=sure, returning=True)
    run.feed(0.2, [(1, AWAY), (2, AWAY)], p, group=7, attrs=unsure)
    viewer = run.updates[-1].snapshot.viewers[0]
    assert viewer.group_size == 2 and viewer.returning
    assert viewer.attributes.age_band is AgeBand.ADULT and viewer.attributes.age_confidence == 0.9


def test_attentive_state() -> None:
    run, p = Run(), play(0)
    for t in ticks(0, 3.5):
        run.feed(t, [(1, FACING)], p)
    assert run.updates[-1].snapshot.viewers[0].status is ViewerStatus.ATTENTIVE


def test_event_lifecycle() -> None:
    run, p = Run(AudienceConfig(update_interval_s=1.0)), play(0)
    for t in ticks(0, 3.0):
        run.feed(t, [(1, FACING), (2, AWAY)], p)
    run.finish(3.0)
    events = [r for r in run.records if isinstance(r, EventRecord) and r.kind is EventKind.VIEWER]
    for subject in {e.subject_id for e in events}:
        phases = [e.phase for e in events if e.subject_id == subject]
        assert phases[0] is Phase.START and phases[-1] is Phase.END
        assert phases.count(Phase.START) == 1 and phases.count(Phase.END) == 1
        assert phases.count(Phase.UPDATE) >= 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(-90, 90), st.integers(0, 2), st.booleans()), min_size=1, max_size=120)
)
def test_attention_never_exceeds_dwell(script: list[tuple[bool, float, int, bool]]) -> None:
    """Any sequence of sightings, gaps, head angles and switches keeps attention <= dwell everywhere."""
    run = Run()
    plays = [play(0, "a"), play(0, "b"), play(0, "c")]
    t = 0.0
    for seen, yaw, which, long_gap in script:
        t += 1.5 if long_gap else TICK
        run.feed(t, [(1, yaw)] if seen else [], plays[which])
    run.finish(t)
    for record in run.records:
        if isinstance(record, ViewerRecord | ExposureRecord):
            assert record.attention_s <= record.dwell_s + 1e-9
    visits = run.viewers_closed()
    exposures = run.exposures_closed()
    assert sum(e.attention_s for e in exposures) == pytest.approx(sum(v.attention_s for v in visits), abs=1e-6)


def test_preemption_opens_exposures_only_for_people_seen_now() -> None:
    """A switch inside a tick: the person seen now moves to the new item; one missed this tick does not, and no
    exposure ever ends before it starts."""
    run, first, second = Run(), play(0, "wine"), play(1.0, "tea")
    for t in ticks(0, 0.9):
        run.feed(t, [(1, FACING), (2, FACING)], first)
    run.feed(1.0, [(1, FACING)], first)  # person 2 missed in this tick
    run.updates.append(run.stage.switch_play(second, 1.0, T0 + timedelta(seconds=1.0)))
    run.feed(1.1, [(1, FACING)], second)
    run.finish(1.1)
    exposures = run.exposures_closed()
    assert sorted(e.item_id for e in exposures) == ["tea", "wine", "wine"]
    assert all(e.ended_utc is not None and e.ended_utc >= e.started_utc for e in exposures)
    (tea,) = [e for e in exposures if e.item_id == "tea"]
    assert tea.dwell_s == pytest.approx(0.1)


# -- dwell from the first sighting ---------------------------------------------------------------------------------


def feed_first_seen(run: Run, t: float, first_seen: float, current: PlayRecord) -> None:
    """One tick of track 1, facing, that the tracker first saw at `first_seen`."""
    observed = dataclasses.replace(tracks([(1, FACING)]), seen_for_s=np.array([t - first_seen], np.float32))
    run.updates.append(
        run.stage.update(Observation(t_mono=t, t_utc=T0 + timedelta(seconds=t), tracks=observed), current)
    )


def test_a_track_back_after_its_visit_ended_starts_a_new_visit_when_seen_again() -> None:
    """Seen 0-2 s, unseen until 3.5 s while the tracker keeps the id, seen again until 5 s: two visits, the second
    from 3.5 s (not dated back to the track's first sighting, which would overlap the first visit)."""
    run, p = Run(), play(0)
    for t in ticks(0.0, 5.0):
        if 2.0 < t < 3.5:
            run.feed(t, [], p)  # the camera sees nobody; the tracker coasts the track
        else:
            feed_first_seen(run, t, 0.0, p)
    run.finish(5.0)
    first, second = sorted(run.viewers_closed(), key=lambda v: v.first_seen_utc)
    assert first.dwell_s == pytest.approx(2.0)
    assert second.first_seen_utc == T0 + timedelta(seconds=3.5) and second.dwell_s == pytest.approx(1.5)


def test_a_visit_starts_at_the_tracks_first_sighting_not_at_its_id() -> None:
    """The tracker gives an id on the 3rd sighting (0.2 s after the first) and says so in `seen_for_s`: dwell,
    attention, the viewer's first-seen time and the exposure all start at the first sighting."""
    run, p = Run(), play(0)
    for t in ticks(1.2, 3.0):
        feed_first_seen(run, t, 1.0, p)
    run.finish(3.0)
    (viewer,) = run.viewers_closed()
    assert viewer.first_seen_utc == T0 + timedelta(seconds=1.0)
    assert viewer.dwell_s == pytest.approx(2.0) and viewer.attention_s == pytest.approx(2.0)
    (exposure,) = run.exposures_closed()
    assert exposure.started_utc == T0 + timedelta(seconds=1.0)
    assert exposure.attention_s == pytest.approx(2.0) and exposure.dwell_s == pytest.approx(2.0)
    start = next(r for r in run.records if isinstance(r, EventRecord) and r.phase is Phase.START)
    assert start.t_mono == pytest.approx(1.0)


def test_an_exposure_does_not_start_before_its_item() -> None:
    """First sighted at 0.8 s, id at 1.0 s; the item started at 0.9 s: the exposure starts at 0.9 s."""
    run, p = Run(), play(0.9)
    for t in ticks(1.0, 2.0):
        feed_first_seen(run, t, 0.8, p)
    run.finish(2.0)
    (viewer,) = run.viewers_closed()
    (exposure,) = run.exposures_closed()
    assert viewer.dwell_s == pytest.approx(1.2)
    assert exposure.started_utc == T0 + timedelta(seconds=0.9)
    assert exposure.dwell_s == pytest.approx(1.1)
    assert exposure.attention_s <= exposure.dwell_s


def test_the_viewer_row_keeps_the_way_the_person_moved_most() -> None:
    """Walks left to right for 1.5 s, stands watching for 4 s, leaves for 1 s: left_to_right. A person who only
    stood: standing. A source that cannot tell (no direction): unknown."""
    run, p = Run(), play(0)
    for t in ticks(0, 6.5):
        moving = Direction.LEFT_TO_RIGHT if t < 1.5 else Direction.STANDING if t < 5.5 else Direction.LEAVING
        still = Direction.STANDING
        base = tracks([(1, FACING), (2, FACING), (3, FACING)])
        observed = dataclasses.replace(base, directions=(moving, still, Direction.UNKNOWN))
        run.updates.append(run.stage.update(Observation(t_mono=t, t_utc=T0 + timedelta(seconds=t), tracks=observed), p))
    run.finish(6.5)
    assert sorted(str(v.direction) for v in run.viewers_closed()) == ["left_to_right", "standing", "unknown"]


# -- reaction to content ------------------------------------------------------------------------------------------


def mood(band: Mood) -> Attributes:
    return Attributes(mood=band, mood_confidence=0.9)


def test_reaction_compares_attention_and_mood_before_and_after_an_item_starts() -> None:
    """Looking away and neutral for the 3 s before item b starts; then facing 2 of the next 3 s, smiling."""
    run = Run(AudienceConfig(reaction_window_s=3.0))
    first, second = play(0, "a"), play(4.0, "b")
    for t in ticks(0, 3.9):
        run.feed(t, [(1, AWAY if t >= 1.0 else FACING)], first, attrs=mood(Mood.NEUTRAL))
    for t in ticks(4.0, 8.0):
        facing = FACING if 5.0 < t <= 7.0 else AWAY
        run.feed(t, [(1, facing)], second, attrs=mood(Mood.POSITIVE))
    run.finish(8.0)
    a, b = run.exposures_closed()
    assert b.item_id == "b"
    assert b.attention_share_before == pytest.approx(0.0)  # away over 1.0-4.0
    assert b.attention_share_after == pytest.approx(2.0 / 3.0, abs=0.04)
    assert (b.mood_before, b.mood_after) == (Mood.NEUTRAL, Mood.POSITIVE)
    # item a: nobody was seen before it started; after it, facing over 0.0-1.0 of the first 3 s
    assert a.attention_share_before is None and a.mood_before is None
    assert a.attention_share_after == pytest.approx(1.0 / 3.0, abs=0.04)
    assert a.mood_after is Mood.NEUTRAL


def test_reaction_is_none_while_open_and_for_a_viewer_first_seen_after_the_start() -> None:
    run, p = Run(), play(0)
    run.feed(1.5, [(1, FACING)], p, attrs=mood(Mood.NEGATIVE))
    opened = [r for r in run.records if isinstance(r, ExposureRecord)]
    assert opened and opened[0].attention_share_after is None and opened[0].mood_after is None
    for t in ticks(1.6, 2.5):
        run.feed(t, [(1, FACING)], p)  # mood unknown from here on
    run.finish(2.5)
    (exposure,) = run.exposures_closed()
    assert exposure.attention_share_before is None and exposure.mood_before is None
    assert exposure.attention_share_after == pytest.approx(1.0)  # facing throughout 1.5-2.5 (within 3 s of start)
    assert exposure.mood_after is Mood.NEGATIVE  # unknown moods are not counted


def test_the_mood_after_an_item_starts_counts_from_the_reaction_delay() -> None:
    """Neutral until 1.2 s after item b started, then smiling (a live profiler measures the mood again ~1 s after a
    start): the smile is the mood after, although it was seen for less than half of the window."""
    run = Run(AudienceConfig(reaction_window_s=3.0, reaction_mood_delay_s=1.0))
    first, second = play(0, "a"), play(4.0, "b")
    for t in ticks(0, 3.9):
        run.feed(t, [(1, FACING)], first, attrs=mood(Mood.NEUTRAL))
    for t in ticks(4.0, 8.0):
        run.feed(t, [(1, FACING)], second, attrs=mood(Mood.POSITIVE if t >= 5.2 else Mood.NEUTRAL))
    run.finish(8.0)
    _, b = run.exposures_closed()
    assert (b.mood_before, b.mood_after) == (Mood.NEUTRAL, Mood.POSITIVE)
    with pytest.raises(ValueError, match="reaction_mood_delay_s"):
        AudienceConfig(reaction_window_s=2.0, reaction_mood_delay_s=2.0)


def test_reaction_window_ends_after_the_configured_span() -> None:
    """Facing only from 2 s after the start: in a 1 s window that is no attention; in a 3 s window, a third."""
    shares = []
    for window in (1.0, 3.0):
        run, p = Run(AudienceConfig(reaction_window_s=window, reaction_mood_delay_s=0.5)), play(0)
        for t in ticks(0, 4.0):
            run.feed(t, [(1, FACING if t > 2.0 else AWAY)], p)
        run.finish(4.0)
        (exposure,) = run.exposures_closed()
        shares.append(exposure.attention_share_after)
    assert shares[0] == pytest.approx(0.0) and shares[1] == pytest.approx(1.0 / 3.0, abs=0.04)


# -- one visit per person: re-id continuation ---------------------------------------------------------------------


def keyed(t: float, people: Sequence[tuple[int, float, str]], returning: bool = False) -> Observation:
    """An observation whose tracks carry re-id keys ("" = not known yet)."""
    base = tracks([(p[0], p[1]) for p in people], returning=returning)
    return Observation(
        t_mono=t,
        t_utc=T0 + timedelta(seconds=t),
        tracks=dataclasses.replace(base, person_keys=tuple(p[2] for p in people)),
    )


@pytest.mark.parametrize("key_late", [False, True])
def test_a_new_track_with_the_key_of_an_open_visit_continues_it(key_late: bool) -> None:
    """The tracker lost person k at 1.0 s and gave them track 2 at 1.5 s (before lost_after_s ran out): one visit,
    one exposure, dwell 0-3 s, not returning; with the key known only from 1.7 s the new track's rows wait."""
    stage, p = AudienceStage(AudienceConfig(), session_id="s", model_versions="test"), play(0)
    out: list[AudienceUpdate] = []
    for t in ticks(0, 1.0):
        out.append(stage.update(keyed(t, [(1, FACING, "k")]), p))
    for t in ticks(1.5, 3.0):
        key = "" if key_late and t < 1.7 else "k"
        out.append(stage.update(keyed(t, [(2, FACING, key)], returning=True), p))
        assert len(out[-1].snapshot.viewers) == 1  # never counted twice
    out.append(stage.close_all(3.0, T0 + timedelta(seconds=3.0)))
    records = [r for u in out for r in u.records]
    starts = [
        r for r in records if isinstance(r, EventRecord) and r.kind is EventKind.VIEWER and r.phase is Phase.START
    ]
    (viewer,) = [r for r in records if isinstance(r, ViewerRecord) and r.status is Status.CLOSED]
    assert len(starts) == 1 and viewer.viewer_id == starts[0].subject_id
    assert viewer.dwell_s == pytest.approx(3.0) and not viewer.returning
    assert viewer.attention_s == pytest.approx(1.0 + 0.5 + 1.5)  # the 0.5 s gap counts up to max_gap_s
    (exposure,) = [e for u in out for e in u.closed_exposures]
    assert exposure.viewer_id == viewer.viewer_id and exposure.dwell_s == pytest.approx(3.0)
    assert {r.viewer_id for r in records if isinstance(r, ExposureRecord)} == {viewer.viewer_id}


@pytest.mark.parametrize("key_from", [1.7, 2.0])
def test_a_continued_visit_counts_the_new_tracks_time_before_its_id(key_from: float) -> None:
    """As above, but the tracker first sighted track 2 at 1.5 s and gave it its id at 1.7 s (`seen_for_s`): the
    visit counts 1.5-1.7 s as seen and facing, exactly as if the id had come at once."""
    stage, p = AudienceStage(AudienceConfig(), session_id="s", model_versions="test"), play(0)
    out: list[AudienceUpdate] = []
    for t in ticks(0, 1.0):
        out.append(stage.update(keyed(t, [(1, FACING, "k")]), p))
    for t in ticks(1.7, 3.0):
        observed = keyed(t, [(2, FACING, "k" if t >= key_from - 1e-9 else "")], returning=True)
        seen_for = np.array([t - 1.5], np.float32)
        out.append(
            stage.update(
                dataclasses.replace(observed, tracks=dataclasses.replace(observed.tracks, seen_for_s=seen_for)), p
            )
        )
        assert len(out[-1].snapshot.viewers) <= 1
    out.append(stage.close_all(3.0, T0 + timedelta(seconds=3.0)))
    records = [r for u in out for r in u.records]
    (viewer,) = [r for r in records if isinstance(r, ViewerRecord) and r.status is Status.CLOSED]
    assert viewer.dwell_s == pytest.approx(3.0)
    assert viewer.attention_s == pytest.approx(1.0 + 0.5 + 1.5)
    (exposure,) = [e for u in out for e in u.closed_exposures]
    assert exposure.attention_s == pytest.approx(3.0)


@pytest.mark.parametrize(("gap_end", "second_key"), [(2.5, "k"), (1.5, "other"), (1.5, "")])
def test_a_new_track_is_a_new_visit_when_the_key_differs_or_the_visit_ended(gap_end: float, second_key: str) -> None:
    """After lost_after_s the first visit is over; another key (or none) is another person: two visits."""
    run, p = Run(), play(0)
    for t in ticks(0, 1.0):
        run.updates.append(run.stage.update(keyed(t, [(1, FACING, "k")]), p))
    for t in ticks(gap_end, gap_end + 1.0):
        run.updates.append(run.stage.update(keyed(t, [(2, FACING, second_key)]), p))
    run.finish(gap_end + 1.0)
    first, second = sorted(run.viewers_closed(), key=lambda v: v.first_seen_utc)
    assert first.dwell_s == pytest.approx(1.0) and second.dwell_s == pytest.approx(1.0)
    assert second.first_seen_utc == T0 + timedelta(seconds=gap_end)
