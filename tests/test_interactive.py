"""Interactive detail: the rule that opens an item's detail page for a reader and returns to the rotation when
attention is lost; and the audience stage that marks readers from their gaze."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from signage.audience import AudienceStage
from signage.config import AudienceConfig
from signage.config.rules import RulesConfig
from signage.content import ContentPool
from signage.decision import Decider, RoundRobinPolicy
from signage.decision.interactive import (
    DetailMoveKind,
    DetailSession,
    DetailState,
    interactive_detail,
)
from signage.ids import new_id
from signage.records import EventKind, EventRecord, Phase, PlayRecord
from signage.types import (
    AgeBand,
    Attributes,
    AudienceSnapshot,
    ContentItem,
    ContentKind,
    Direction,
    Observation,
    Tracks,
    Viewer,
    ViewerStatus,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AD = ContentItem("ad", "", ContentKind.TEXT, 8.0, "Acme", "food", title="Ad", detail_id="ad-detail")
PAGE = ContentItem("ad-detail", "", ContentKind.TEXT, 15.0, "Acme", "food", title="More")
WINE = ContentItem("wine", "", ContentKind.TEXT, 8.0, "Cellar", "alcohol", title="W", restricted=True, detail_id="wd")
WINE_PAGE = ContentItem("wd", "", ContentKind.TEXT, 15.0, "Cellar", "alcohol", title="W+", restricted=True)
PLAIN = ContentItem("plain", "", ContentKind.TEXT, 8.0, "Acme", "food", title="Plain")
POOL = ContentPool(base_dir=Path(), items=(AD, PAGE, WINE, WINE_PAGE, PLAIN))


def viewer(status: ViewerStatus, *, facing: bool = True, age: AgeBand = AgeBand.ADULT) -> Viewer:
    return Viewer(
        viewer_id=new_id(),
        track_id=1,
        status=status,
        first_seen_mono=0.0,
        last_seen_mono=0.0,
        dwell_s=5.0,
        attention_s=4.0,
        facing=facing,
        facing_streak_s=4.0 if facing else 0.0,
        attributes=Attributes(age_band=age, age_confidence=0.9),
        returning=False,
        direction=Direction.STANDING,
        group_size=1,
        is_passer_by=True,
        is_watcher=True,
    )


def snap(t: float, *viewers: Viewer, camera_ok: bool = True) -> AudienceSnapshot:
    return AudienceSnapshot(t_mono=t, t_utc=T0 + timedelta(seconds=t), viewers=viewers, camera_ok=camera_ok)


@pytest.mark.parametrize(
    ("current", "viewers", "camera_ok", "expected"),
    [
        (AD, (viewer(ViewerStatus.READING),), True, PAGE),
        (AD, (viewer(ViewerStatus.ATTENTIVE),), True, None),  # attentive is not reading
        (PLAIN, (viewer(ViewerStatus.READING),), True, None),  # no detail page
        (None, (viewer(ViewerStatus.READING),), True, None),
        (WINE, (viewer(ViewerStatus.READING),), True, WINE_PAGE),
        (WINE, (viewer(ViewerStatus.READING), viewer(ViewerStatus.PRESENT, age=AgeBand.CHILD)), True, None),
        (WINE, (viewer(ViewerStatus.READING),), False, None),  # camera out: a restricted page may not open
    ],
)
def test_interactive_detail_opens_only_for_a_reader_of_an_item_with_a_page(
    current: ContentItem | None, viewers: tuple[Viewer, ...], camera_ok: bool, expected: ContentItem | None
) -> None:
    assert interactive_detail(snap(1.0, *viewers, camera_ok=camera_ok), current, POOL) == expected


def test_a_page_not_in_the_pool_or_not_allowed_is_not_opened() -> None:
    reading = snap(1.0, viewer(ViewerStatus.READING))
    quarantined = ContentPool(base_dir=Path(), items=(AD, PLAIN))
    assert interactive_detail(reading, AD, quarantined) is None
    assert interactive_detail(reading, AD, POOL, allowed=lambda item: item.item_id != "ad-detail") is None


@pytest.mark.parametrize(
    ("rules", "refusal"),
    [
        ({}, None),
        ({"items": {"ad-detail": {"killed": True}}}, "killed (item ad-detail)"),  # rules may name a detail page
        ({"advertisers": {"Acme": {"killed": True}}}, "killed (advertiser Acme)"),
        ({"blocked_categories": ["food"]}, "blocked category food"),
        ({"screen_killed": True}, "killed (screen)"),
        (
            {
                "dayparts": {"night": [{"start": "22:00", "end": "06:00"}]},
                "items": {"ad-detail": {"dayparts": ["night"]}},
            },
            "schedule: outside the hours of item ad-detail",
        ),
    ],
)
def test_the_operator_rules_cover_detail_pages(rules: dict[str, object], refusal: str | None) -> None:
    house = ContentItem("house", "", ContentKind.TEXT, 8.0, "Store", "store", title="Welcome")  # the fallback
    decider = Decider(
        RoundRobinPolicy(order=["ad", "plain"]),
        (*POOL.rotation, house),
        timezone="UTC",
        fallback_item="house",
        rules=RulesConfig.model_validate(rules),
        detail_items=POOL.detail_items,
    )
    assert {item.item_id for item in POOL.detail_items} == {"ad-detail", "wd"}
    assert decider.detail_refusal(PAGE, snap(1.0, viewer(ViewerStatus.READING))) == refusal
    with_child = snap(1.0, viewer(ViewerStatus.READING), viewer(ViewerStatus.PRESENT, age=AgeBand.CHILD))
    restricted = "restricted: a minor may be present or an age is uncertain"
    assert decider.detail_refusal(WINE_PAGE, with_child) == (
        "killed (screen)" if "screen_killed" in rules else restricted
    )


def test_session_opens_once_then_returns_when_attention_is_lost() -> None:
    session = DetailSession(lost_after_s=2.0)
    move = session.update(snap(0.0, viewer(ViewerStatus.READING)), AD, POOL)
    assert move is not None and move.kind is DetailMoveKind.OPEN and move.item == PAGE and move.parent_id == "ad"
    assert session.state is DetailState.DETAIL and session.detail_id == "ad-detail"
    # Still reading the parent while the page waits for its turn; then the page is on screen and read.
    assert session.update(snap(0.5, viewer(ViewerStatus.READING)), AD, POOL) is None
    assert session.update(snap(1.0, viewer(ViewerStatus.WATCHER)), PAGE, POOL) is None
    # Looking away: a short break is forgiven, a long one returns to the rotation.
    away = viewer(ViewerStatus.WATCHER, facing=False)
    assert session.update(snap(2.5, away), PAGE, POOL) is None
    move = session.update(snap(3.0, away), PAGE, POOL)
    assert move is not None and move.kind is DetailMoveKind.RETURN and move.item is None
    assert session.state is DetailState.ROTATION


def test_session_leaves_quietly_when_the_page_ended_and_opens_again_later() -> None:
    session = DetailSession()
    assert session.update(snap(0.0, viewer(ViewerStatus.READING)), AD, POOL) is not None
    assert session.update(snap(20.0, viewer(ViewerStatus.READING)), PLAIN, POOL) is None  # the rotation moved on
    assert session.state is DetailState.ROTATION
    again = session.update(snap(30.0, viewer(ViewerStatus.READING)), AD, POOL)
    assert again is not None and again.kind is DetailMoveKind.OPEN
    with pytest.raises(ValueError, match="lost_after_s"):
        DetailSession(lost_after_s=0.0)


# --- the audience stage: reading from gaze ---------------------------------------------------------------------------


def reading_gaze(t: float) -> float:
    """Horizontal gaze in degrees while reading: 0.3 s fixations stepping right by 0.07 screen widths, five per
    line, then a return sweep (a 40-degree-wide screen)."""
    fixation = int(t / 0.3)
    x = 0.2 + 0.07 * (fixation % 5)
    return (x - 0.5) * 40.0


def tracks_at(gaze_x: float) -> Tracks:
    return Tracks(
        ids=np.array([7], np.int64),
        boxes=np.array([[10, 10, 60, 200]], np.float32),
        head_pose=np.array([[3.0, 0.0, 0.0]], np.float32),
        returning=np.array([False]),
        group_ids=np.array([-1], np.int64),
        attributes=(Attributes(),),
        directions=(Direction.STANDING,),
        gaze=np.array([[gaze_x, -2.0]], np.float32),
    )


def test_stage_marks_a_reader_and_logs_reading_start_and_end() -> None:
    stage = AudienceStage(AudienceConfig(), session_id="s", model_versions="test")
    play = PlayRecord(new_id(), "s", new_id(), "ad", T0, 0.0)
    statuses: list[tuple[float, ViewerStatus]] = []
    events: list[EventRecord] = []
    t = 0.0
    while t < 18.0:
        gaze = reading_gaze(t) if t < 8.0 else float("nan")  # reads for 8 s, then looks at the screen without eyes
        update = stage.update(Observation(t, T0 + timedelta(seconds=t), tracks_at(gaze)), play)
        statuses.append((t, update.snapshot.viewers[0].status))
        events += [r for r in update.records if isinstance(r, EventRecord) and "reading" in r.payload]
        t = round(t + 0.1, 6)
    reading_times = [t for t, status in statuses if status is ViewerStatus.READING]
    assert reading_times, "the reader was never READING"
    assert 1.0 < reading_times[0] < 5.0, "two lines read before the verdict, not more"
    # The monitor's window (6 s) still holds read lines for a while; then it releases after 2 s without a verdict.
    assert 8.0 < reading_times[-1] < 8.0 + 6.0 + 2.0, "reading ends once the read lines left the window"
    assert statuses[-1][1] is not ViewerStatus.READING
    assert [e.payload["reading"] for e in events] == [True, False]
    assert all(e.kind is EventKind.VIEWER and e.phase is Phase.UPDATE and e.payload["item"] == "ad" for e in events)
    assert events[0].t_mono == reading_times[0] and events[1].t_mono == pytest.approx(reading_times[-1] + 0.1)


def test_a_reader_who_leaves_gets_a_reading_end() -> None:
    stage = AudienceStage(AudienceConfig(), session_id="s", model_versions="test")
    play = PlayRecord(new_id(), "s", new_id(), "ad", T0, 0.0)
    records = []
    for k in range(60):
        t = k * 0.1
        records += stage.update(Observation(t, T0 + timedelta(seconds=t), tracks_at(reading_gaze(t))), play).records
    records += stage.close_all(6.0, T0 + timedelta(seconds=6.0)).records
    flags = [r.payload["reading"] for r in records if isinstance(r, EventRecord) and "reading" in r.payload]
    assert flags == [True, False]
