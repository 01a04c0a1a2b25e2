"""Records: lossless round-trips to a row and through the real writer into SQLite, and every validation rule."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signage.config import StoreConfig
from signage.records import (
    RECORD_TYPES,
    DecisionRecord,
    EventKind,
    EventRecord,
    ExposureRecord,
    Phase,
    PlayRecord,
    Record,
    SessionRecord,
    Status,
    ViewerRecord,
)
from signage.store import StoreWriter
from signage.types import AgeBand, Direction, Gender, Mood

# -- strategies ------------------------------------------------------------------------------------------------------

# Aware datetimes with microseconds; some in another offset, which must come back as the same instant in UTC.
times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
finite = st.floats(allow_nan=False, allow_infinity=False)
nonneg = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
texts = st.text(max_size=30)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | int64 | finite | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(texts, json_values, max_size=6)


@st.composite
def ordered(draw: st.DrawFn, values: st.SearchStrategy[float] = finite) -> tuple[float, float]:
    a, b = draw(values), draw(values)
    return (a, b) if a <= b else (b, a)


@st.composite
def sessions(draw: st.DrawFn) -> SessionRecord:
    started_mono, last_seen_mono = draw(ordered())
    return SessionRecord(
        session_id=draw(texts),
        screen_id=draw(texts),
        started_utc=draw(times),
        started_mono=started_mono,
        mode=draw(st.sampled_from(["demo", "run", "simulate"])),
        software_version=draw(texts),
        config_digest=draw(texts),
        last_seen_utc=draw(times),
        last_seen_mono=last_seen_mono,
        ended_utc=draw(st.none() | times),
        status=draw(st.sampled_from(Status)),
    )


@st.composite
def decisions(draw: st.DrawFn) -> DecisionRecord:
    eligible = draw(st.lists(texts, min_size=1, max_size=6))
    return DecisionRecord(
        decision_id=draw(texts),
        session_id=draw(texts),
        t_utc=draw(times),
        t_mono=draw(finite),
        context=draw(json_objects),
        eligible=tuple(eligible),
        item_id=draw(st.sampled_from(eligible)),
        propensity=draw(st.floats(min_value=0.0, max_value=1.0, exclude_min=True)),
        policy=draw(texts),
        policy_version=draw(texts),
        reason=draw(texts),
        arm=draw(st.sampled_from(["learner", "control"])),
        trigger=draw(st.sampled_from(["item_end", "interactive", "preempt"])),
    )


@st.composite
def plays(draw: st.DrawFn) -> PlayRecord:
    started_mono, ended_mono = draw(ordered())
    closed = draw(st.booleans())
    return PlayRecord(
        play_id=draw(texts),
        session_id=draw(texts),
        decision_id=draw(texts),
        item_id=draw(texts),
        started_utc=draw(times),
        started_mono=started_mono,
        ended_utc=draw(times) if closed else None,
        ended_mono=ended_mono if closed else None,
        measured=draw(st.booleans()),
        status=draw(st.sampled_from(Status)),
    )


@st.composite
def viewers(draw: st.DrawFn) -> ViewerRecord:
    dwell = draw(nonneg)
    return ViewerRecord(
        viewer_id=draw(texts),
        session_id=draw(texts),
        first_seen_utc=draw(times),
        last_seen_utc=draw(times),
        dwell_s=dwell,
        attention_s=draw(st.floats(min_value=0.0, max_value=dwell)),
        age_band=draw(st.sampled_from(AgeBand)),
        age_confidence=draw(finite),
        gender=draw(st.sampled_from(Gender)),
        gender_confidence=draw(finite),
        mood=draw(st.sampled_from(Mood)),
        mood_confidence=draw(finite),
        returning=draw(st.booleans()),
        group_size=draw(int64),
        is_passer_by=draw(st.booleans()),
        is_watcher=draw(st.booleans()),
        model_versions=draw(texts),
        status=draw(st.sampled_from(Status)),
        direction=draw(st.sampled_from(Direction)),
    )


@st.composite
def exposures(draw: st.DrawFn) -> ExposureRecord:
    dwell = draw(nonneg)
    return ExposureRecord(
        exposure_id=draw(texts),
        session_id=draw(texts),
        viewer_id=draw(texts),
        play_id=draw(texts),
        decision_id=draw(texts),
        item_id=draw(texts),
        started_utc=draw(times),
        ended_utc=draw(st.none() | times),
        dwell_s=dwell,
        attention_s=draw(st.floats(min_value=0.0, max_value=dwell)),
        held=draw(st.booleans()),
        reward=draw(st.none() | finite),
        status=draw(st.sampled_from(Status)),
        attention_share_before=draw(st.none() | st.floats(min_value=0.0, max_value=1.0)),
        attention_share_after=draw(st.none() | st.floats(min_value=0.0, max_value=1.0)),
        mood_before=draw(st.none() | st.sampled_from(Mood)),
        mood_after=draw(st.none() | st.sampled_from(Mood)),
    )


@st.composite
def events(draw: st.DrawFn) -> EventRecord:
    return EventRecord(
        event_id=draw(texts),
        session_id=draw(texts),
        kind=draw(st.sampled_from(EventKind)),
        phase=draw(st.sampled_from(Phase)),
        subject_id=draw(texts),
        t_utc=draw(times),
        t_mono=draw(finite),
        payload=draw(json_objects),
    )


STRATEGIES: dict[type[Record], st.SearchStrategy[Any]] = {
    SessionRecord: sessions(),
    DecisionRecord: decisions(),
    PlayRecord: plays(),
    ViewerRecord: viewers(),
    ExposureRecord: exposures(),
    EventRecord: events(),
}
any_record: st.SearchStrategy[Record] = st.one_of(*STRATEGIES.values())


def test_every_record_type_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(RECORD_TYPES)


# -- comparison ------------------------------------------------------------------------------------------------------


def assert_same(back: Record, original: Record) -> None:
    """Field by field: the same type and value; datetimes the same instant and in UTC; mappings as plain dicts."""
    assert type(back) is type(original)
    for f in dataclasses.fields(original):
        got, want = getattr(back, f.name), getattr(original, f.name)
        if isinstance(want, Mapping):
            assert isinstance(got, Mapping), f.name
            assert dict(got) == dict(want), f.name
        elif isinstance(want, datetime):
            assert isinstance(got, datetime), f.name
            assert got == want, f.name
            assert got.utcoffset() == timedelta(0), f.name
        else:
            assert type(got) is type(want), f"{f.name}: {type(got).__name__} != {type(want).__name__}"
            assert got == want, f.name
    assert back == original


# -- round-trips -----------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)  # about correctness, not speed (the machine may be busy)
@given(any_record)
def test_row_round_trip(record: Record) -> None:
    row = record.to_row()
    assert set(row) >= {"id"}
    assert_same(type(record).from_row(row), record)


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StoreWriter, sqlite3.Connection]]:
    path = tmp_path_factory.mktemp("records") / "records.db"
    store = StoreWriter(StoreConfig(flush_interval_s=0.01), path=path).start()
    assert store.ready.wait(10), store.health()
    reader = sqlite3.connect(path, isolation_level=None)
    reader.row_factory = sqlite3.Row
    yield store, reader
    reader.close()
    assert store.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(any_record, min_size=1, max_size=6, unique_by=lambda r: (r.TABLE, r.to_row()["id"])))
def test_sqlite_round_trip(writer: tuple[StoreWriter, sqlite3.Connection], records: list[Record]) -> None:
    store, reader = writer
    for record in records:
        store.write(record)
    assert store.flush(timeout=10), store.health()
    for record in records:
        found = reader.execute(f"SELECT * FROM {record.TABLE} WHERE id = ?", (record.to_row()["id"],)).fetchall()
        assert len(found) == 1
        row = dict(found[0])
        assert isinstance(row.pop("seq"), int)
        assert row == record.to_row()
        assert_same(type(record).from_row(row), record)


# -- validation ------------------------------------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
NAIVE = datetime(2024, 5, 1, 12, 0, 0)


def good(kind: type[Record]) -> Any:
    """One valid record of each type, the base that each rejection below changes in one field."""
    if kind is SessionRecord:
        return SessionRecord("s", "screen", NOW, 1.0, "demo", "0.1.0", "abc", NOW, 2.0)
    if kind is DecisionRecord:
        return DecisionRecord(
            "d", "s", NOW, 1.0, {"n": 1}, ("a", "b"), "a", 0.5, "rr", "1", "why", "learner", "item_end"
        )
    if kind is PlayRecord:
        return PlayRecord("p", "s", "d", "a", NOW, 1.0, NOW, 2.0)
    if kind is ViewerRecord:
        return ViewerRecord(
            "v",
            "s",
            NOW,
            NOW,
            5.0,
            2.0,
            AgeBand.ADULT,
            0.9,
            Gender.FEMALE,
            0.8,
            Mood.NEUTRAL,
            0.7,
            False,
            1,
            True,
            True,
            "m1",
        )
    if kind is ExposureRecord:
        return ExposureRecord("e", "s", "v", "p", "d", "a", NOW, NOW, 5.0, 2.0, False, 0.4)
    assert kind is EventRecord
    return EventRecord("ev", "s", EventKind.VIEWER, Phase.START, "v", NOW, 1.0, {"state": "watcher"})


@pytest.mark.parametrize("kind", RECORD_TYPES, ids=lambda k: k.__name__)
def test_valid_base_records(kind: type[Record]) -> None:
    record = good(kind)
    assert_same(kind.from_row(record.to_row()), record)


NAIVE_FIELDS = [
    (SessionRecord, "started_utc"),
    (SessionRecord, "last_seen_utc"),
    (SessionRecord, "ended_utc"),
    (DecisionRecord, "t_utc"),
    (PlayRecord, "started_utc"),
    (PlayRecord, "ended_utc"),
    (ViewerRecord, "first_seen_utc"),
    (ViewerRecord, "last_seen_utc"),
    (ExposureRecord, "started_utc"),
    (ExposureRecord, "ended_utc"),
    (EventRecord, "t_utc"),
]


@pytest.mark.parametrize(("kind", "name"), NAIVE_FIELDS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_naive_datetimes_are_rejected(kind: type[Record], name: str) -> None:
    with pytest.raises(ValueError, match=f"{kind.__name__}.{name} must be timezone-aware"):
        dataclasses.replace(good(kind), **{name: NAIVE})


REJECTIONS: list[tuple[type[Record], dict[str, Any], str]] = [
    (SessionRecord, {"last_seen_mono": 0.5}, "last_seen_mono is before started_mono"),
    (DecisionRecord, {"propensity": 0.0}, r"propensity must be in \(0, 1\]"),
    (DecisionRecord, {"propensity": -0.1}, r"propensity must be in \(0, 1\]"),
    (DecisionRecord, {"propensity": 1.0000001}, r"propensity must be in \(0, 1\]"),
    (DecisionRecord, {"propensity": float("nan")}, r"propensity must be in \(0, 1\]"),
    (DecisionRecord, {"item_id": "z"}, "chosen item 'z' is not in the eligible set"),
    (DecisionRecord, {"eligible": ()}, "chosen item 'a' is not in the eligible set"),
    (PlayRecord, {"ended_mono": 0.5}, "ended_mono is before started_mono"),
    (PlayRecord, {"ended_mono": None}, "ended_utc and ended_mono are set together"),
    (PlayRecord, {"ended_utc": None}, "ended_utc and ended_mono are set together"),
    (ViewerRecord, {"attention_s": 5.1}, "attention_s 5.1 exceeds dwell_s 5.0"),
    (ViewerRecord, {"dwell_s": -1.0}, "dwell_s must be a finite number >= 0"),
    (ViewerRecord, {"attention_s": -0.5}, "attention_s must be a finite number >= 0"),
    (ViewerRecord, {"dwell_s": float("inf")}, "dwell_s must be a finite number >= 0"),
    (ViewerRecord, {"dwell_s": float("nan")}, "dwell_s must be a finite number >= 0"),
    (ExposureRecord, {"attention_s": 6.0}, "attention_s 6.0 exceeds dwell_s 5.0"),
    (ExposureRecord, {"dwell_s": -0.001}, "dwell_s must be a finite number >= 0"),
    (ExposureRecord, {"attention_s": float("nan")}, "attention_s must be a finite number >= 0"),
    (ExposureRecord, {"reward": float("inf")}, "reward must be finite"),
    (ExposureRecord, {"reward": float("nan")}, "reward must be finite"),
    (ExposureRecord, {"attention_share_after": 1.5}, "attention_share_after must be within"),
    (EventRecord, {"payload": {"x": object()}}, "not JSON serializable"),
    (DecisionRecord, {"context": {"x": object()}}, "not JSON serializable"),
    (EventRecord, {"payload": {"x": {1, 2}}}, "not JSON serializable"),
    (EventRecord, {"payload": {"x": float("nan")}}, "Out of range float values are not JSON compliant"),
    (EventRecord, {"payload": {"x": [float("inf")]}}, "Out of range float values are not JSON compliant"),
]


@pytest.mark.parametrize(("kind", "change", "message"), REJECTIONS, ids=lambda v: getattr(v, "__name__", None))
def test_invalid_records_are_rejected(kind: type[Record], change: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        dataclasses.replace(good(kind), **change)


def test_attention_may_equal_dwell() -> None:
    assert dataclasses.replace(good(ViewerRecord), attention_s=5.0).attention_s == 5.0
    assert dataclasses.replace(good(ExposureRecord), attention_s=5.0).attention_s == 5.0


def test_mappings_are_frozen_copies() -> None:
    payload: dict[str, Any] = {"a": 1}
    event = dataclasses.replace(good(EventRecord), payload=payload)
    payload["a"] = 2
    assert event.payload["a"] == 1
    with pytest.raises(TypeError):
        event.payload["a"] = 3
