"""`signage report`: reaction to content per item and the direction of passers-by, read from databases the engine
wrote (the demo's virtual store) and from hand-made rows with known answers."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signage.cli import main
from signage.config import StoreConfig
from signage.ids import new_id
from signage.records import ExposureRecord, Status, ViewerRecord
from signage.report import build_report, format_report
from signage.store import StoreWriter
from signage.store.schema import MIGRATIONS
from signage.types import AgeBand, Direction, Gender, Mood

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MOOD_SCORE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty simulated minutes of `signage demo`: the whole engine writes the database."""
    db = tmp_path_factory.mktemp("report") / "demo.db"
    assert main(["demo", "--headless", "--minutes", "20", "--speed", "0", "--db", str(db), "--seed", "3"]) == 0
    return db


def test_reaction_per_item_is_what_the_exposure_rows_say(demo_db: Path) -> None:
    with sqlite3.connect(demo_db) as conn:
        rows = conn.execute(
            "SELECT item_id, attention_share_before, attention_share_after, mood_before, mood_after FROM exposures "
            "WHERE status != 'open'"
        ).fetchall()
    report = build_report(demo_db)
    checked = 0
    for item in report.items:
        mine = [r for r in rows if r[0] == item.item_id]
        shares = [r[2] - r[1] for r in mine if r[1] is not None and r[2] is not None]
        moods = [MOOD_SCORE[r[4]] - MOOD_SCORE[r[3]] for r in mine if r[3] in MOOD_SCORE and r[4] in MOOD_SCORE]
        assert item.reaction_exposures == len(shares)
        assert item.mood_exposures == len(moods)
        if shares:
            assert item.attention_share_change == pytest.approx(sum(shares) / len(shares))
            checked += 1
        else:
            assert item.attention_share_change is None
        if moods:
            assert item.mood_shift == pytest.approx(sum(moods) / len(moods))
    assert checked >= 5, "the demo should show several items to viewers seen before and after a start"
    assert sum(item.reaction_exposures for item in report.items) >= 50


def test_the_report_shows_reaction_and_direction(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = build_report(demo_db)
    directions = dict(report.directions)
    assert sum(directions.values()) == report.passers_by
    assert {"left_to_right", "right_to_left"} <= set(directions)  # shoppers cross the aisle both ways
    assert set(directions) <= {str(d) for d in Direction}
    text = format_report(report)
    assert "reaction to content" in text and "mood shift" in text
    busiest = max(report.items, key=lambda item: item.reaction_exposures)
    line = next(
        line for line in text.splitlines() if line.split()[:2] == [busiest.item_id, str(busiest.reaction_exposures)]
    )
    assert f"{100 * (busiest.attention_share_change or 0.0):+.1f} pts" in line
    assert "direction of passers-by: " in text and "left_to_right" in text
    assert main(["report", "--db", str(demo_db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert dict((d, n) for d, n in data["directions"]) == directions
    first = data["items"][0]
    assert {"reaction_exposures", "attention_share_change", "mood_exposures", "mood_shift"} <= set(first)


def viewer(direction: Direction) -> ViewerRecord:
    return ViewerRecord(
        viewer_id=new_id(),
        session_id="s",
        first_seen_utc=T0,
        last_seen_utc=T0 + timedelta(seconds=5),
        dwell_s=5.0,
        attention_s=2.0,
        age_band=AgeBand.ADULT,
        age_confidence=0.9,
        gender=Gender.FEMALE,
        gender_confidence=0.9,
        mood=Mood.NEUTRAL,
        mood_confidence=0.9,
        returning=False,
        group_size=1,
        is_passer_by=True,
        is_watcher=True,
        model_versions="test",
        status=Status.CLOSED,
        direction=direction,
    )


def exposure(
    viewer_id: str, shares: tuple[float | None, float | None], moods: tuple[Mood | None, Mood | None]
) -> ExposureRecord:
    return ExposureRecord(
        exposure_id=new_id(),
        session_id="s",
        viewer_id=viewer_id,
        play_id="p",
        decision_id="d",
        item_id="ad",
        started_utc=T0,
        ended_utc=T0 + timedelta(seconds=5),
        dwell_s=5.0,
        attention_s=2.0,
        held=False,
        reward=2.0,
        status=Status.CLOSED,
        attention_share_before=shares[0],
        attention_share_after=shares[1],
        mood_before=moods[0],
        mood_after=moods[1],
    )


def write(db: Path, *records: ViewerRecord | ExposureRecord) -> None:
    store = StoreWriter(StoreConfig(flush_interval_s=0.01), path=db).start()
    for record in records:
        store.write(record)
    assert store.close()
    with sqlite3.connect(db) as conn:  # a play so that the item is listed
        conn.execute(
            "INSERT INTO plays (id, session_id, decision_id, item_id, started_utc, started_mono, ended_mono, measured, "
            "status, seq) VALUES ('p', 's', 'd', 'ad', '2026-11-23T10:00:00.000000Z', 0.0, 10.0, 1, 'closed', 99)"
        )


def test_mood_shift_and_attention_change_on_known_rows(tmp_path: Path) -> None:
    """Neutral → positive (+1), positive → negative (-2), no mood before (not counted): mood shift -0.5 over 2;
    shares 0.2 → 0.8 and 0.5 → 0.5 (+0.3 on average over 2; the third exposure has no share before)."""
    db = tmp_path / "known.db"
    a, b, c = viewer(Direction.LEFT_TO_RIGHT), viewer(Direction.LEFT_TO_RIGHT), viewer(Direction.APPROACHING)
    write(
        db,
        a,
        b,
        c,
        exposure(a.viewer_id, (0.2, 0.8), (Mood.NEUTRAL, Mood.POSITIVE)),
        exposure(b.viewer_id, (0.5, 0.5), (Mood.POSITIVE, Mood.NEGATIVE)),
        exposure(c.viewer_id, (None, 1.0), (None, Mood.POSITIVE)),
    )
    (item,) = build_report(db).items
    assert (item.reaction_exposures, item.mood_exposures) == (2, 2)
    assert item.attention_share_change == pytest.approx(0.3)
    assert item.mood_shift == pytest.approx(-0.5)
    report = build_report(db)
    assert report.directions == (("left_to_right", 2), ("approaching", 1))
    text = format_report(report)
    assert "+30.0 pts" in text and "-0.50" in text
    assert "left_to_right 2 (67%), approaching 1 (33%)" in text


def test_a_database_without_directions_says_so(tmp_path: Path) -> None:
    """A database from before schema version 4 (no viewers.direction), or one whose source could not tell."""
    db = tmp_path / "old.db"
    v = viewer(Direction.UNKNOWN)
    write(db, v, exposure(v.viewer_id, (None, None), (None, None)))
    assert build_report(db).directions == ()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE viewers DROP COLUMN direction")
    report = build_report(db)
    assert report.directions == ()
    assert report.items[0].reaction_exposures == 0 and report.items[0].attention_share_change is None
    assert "direction of passers-by: not logged" in format_report(report)


def test_a_database_of_schema_version_2_still_gives_a_report(tmp_path: Path) -> None:
    """The report opens a database read-only and never migrates it: one written before reactions (3) and
    directions (4) were logged still reports, without those parts."""
    db = tmp_path / "v2.db"
    with sqlite3.connect(db) as conn:
        for _, _, statements in MIGRATIONS[:2]:
            for statement in statements:
                conn.execute(statement)
    report = build_report(db)
    assert report.items == () and report.directions == ()
    assert "direction of passers-by: not logged" in format_report(report)
