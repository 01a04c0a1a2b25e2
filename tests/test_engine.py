"""The closed loop, end to end on the virtual store: consistent rows, measured figures close to the truth,
and a database that refuses writes does not stop the engine."""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signage.cli import main
from signage.clock import SimClock
from signage.config import Config, StoreConfig
from signage.content import ContentPool, load_pool
from signage.decision import Decider, RoundRobinPolicy
from signage.engine import Engine, RunSummary
from signage.player import GaplessPlayer, InstantScreen
from signage.report import build_report
from signage.sim import SimTruth, VirtualStore
from signage.store import StoreWriter
from signage.types import Context

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 in Berlin: a busy hour


@pytest.fixture(scope="module")
def pool() -> ContentPool:
    return load_pool(ROOT / "content" / "pool.toml")


class LearnLog(RoundRobinPolicy):
    """The playlist, keeping what the engine taught it: (item id, reward) per closed exposure."""

    def __init__(self, *, order: list[str]) -> None:
        super().__init__(order=order)
        self.learned: list[tuple[str, float]] = []

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        self.learned.append((item_id, reward))


def run_engine(
    pool: ContentPool,
    db: Path,
    *,
    minutes: float,
    config: Config | None = None,
    speed: float = 0.0,
    display: bool = False,
    policy: RoundRobinPolicy | None = None,
) -> tuple[RunSummary, SimTruth, StoreWriter]:
    config = config or Config()
    clock = SimClock(start_utc=START)
    source = VirtualStore(config.sim, start_utc=START, timezone=config.screen.timezone, items=pool.items)
    decider = Decider(
        policy or RoundRobinPolicy(order=[i.item_id for i in pool.rotation]),
        pool.rotation,
        timezone="Europe/Berlin",
        fallback_item=None,
        rules=config.rules,
    )
    store = StoreWriter(config.store, path=db).start()
    screen: GaplessPlayer | InstantScreen = InstantScreen()
    if display:
        screen = GaplessPlayer(config.player.model_copy(update={"width": 320, "height": 180}), headless=True)
        for item in pool.items:
            screen.wait_ready(item, timeout_s=10)
    engine = Engine(config, source=source, pool=pool, decider=decider, store=store, clock=clock, screen=screen)
    try:
        summary = engine.run_simulated(minutes * 60, tick_s=config.sim.tick_s, speed=speed, frame_interval_s=0.05)
    finally:
        screen.close()
        store.close()
    return summary, source.truth(), store


@pytest.fixture(scope="module")
def hour_policy(pool: ContentPool) -> LearnLog:
    return LearnLog(order=[i.item_id for i in pool.rotation])


@pytest.fixture(scope="module")
def hour(
    pool: ContentPool, hour_policy: LearnLog, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunSummary, SimTruth, Path]:
    db = tmp_path_factory.mktemp("hour") / "hour.db"
    config = Config()  # with arrival preemption on, so the hour's checks hold with it too
    config = config.model_copy(update={"player": config.player.model_copy(update={"preempt_on_arrival": True})})
    summary, truth, _ = run_engine(pool, db, minutes=60, display=True, config=config, policy=hour_policy)
    return summary, truth, db


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_hour_runs_to_the_end(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    summary, _, _ = hour
    assert summary.sim_seconds == pytest.approx(3600, abs=0.2)
    assert summary.ticks == 36000 and not summary.stopped_early and summary.store_clean
    assert summary.plays > 300  # items of 6-12 s back to back for an hour


def test_every_row_points_at_its_parent(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    _, _, db = hour
    assert rows(db, "SELECT COUNT(*) FROM exposures WHERE play_id NOT IN (SELECT id FROM plays)") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM exposures WHERE viewer_id NOT IN (SELECT id FROM viewers)") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE decision_id NOT IN (SELECT id FROM decisions)") == [(0,)]
    unplayed = rows(db, "SELECT COUNT(*) FROM decisions WHERE id NOT IN (SELECT decision_id FROM plays)")[0][0]
    skipped = rows(db, "SELECT COUNT(*) FROM events WHERE kind = 'play' AND json_extract(payload, '$.skipped')")
    assert unplayed == skipped[0][0]  # a decision without a play was replaced before it reached the screen
    assert rows(
        db, "SELECT COUNT(*) FROM exposures x JOIN plays p ON p.id = x.play_id WHERE x.item_id != p.item_id"
    ) == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM exposures WHERE ended_utc < started_utc") == [(0,)]


def test_attention_within_dwell_and_nothing_left_open(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    _, _, db = hour
    for table in ("viewers", "exposures"):
        assert rows(db, f"SELECT COUNT(*) FROM {table} WHERE attention_s > dwell_s + 1e-9") == [(0,)]
        assert rows(db, f"SELECT COUNT(*) FROM {table} WHERE status != 'closed'") == [(0,)]
    assert rows(db, "SELECT status FROM sessions") == [("closed",)]
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE status != 'closed' OR ended_mono IS NULL") == [(0,)]


def test_plays_are_back_to_back_without_gaps(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    """Each item appears no later than the previous one leaves (a cut: at the same frame; a crossfade: both are on
    screen for the transition)."""
    _, _, db = hour
    transition_s = Config().player.transition_s
    plays = rows(db, "SELECT started_mono, ended_mono FROM plays ORDER BY started_mono")
    assert plays[0][0] == 0.0
    for (_, end), (start, _) in itertools.pairwise(plays):
        assert start <= end <= start + transition_s + 0.2  # type: ignore[operator]
    assert plays[-1][1] == pytest.approx(3600, abs=0.2)


def test_decisions_are_logged_with_propensity_and_respect_restrictions(
    hour: tuple[RunSummary, SimTruth, Path],
) -> None:
    _, _, db = hour
    restricted = {"wine-tasting", "credit-card"}
    for context, eligible, learner_eligible, item, propensity, policy, reason in rows(
        db,
        "SELECT context, eligible, learner_eligible, item_id, propensity, policy, reason FROM decisions "
        "WHERE trigger != 'interactive'",
    ):
        ctx, allowed = json.loads(str(context)), json.loads(str(eligible))
        assert item in allowed and 0 < float(propensity) <= 1 and policy == "round_robin" and reason  # type: ignore[arg-type]
        # What returning viewers watched on earlier visits stays in RAM: it is never written with the context.
        assert not [name for name in ctx["features"] if name.startswith("item:")]
        # The playlist is the whole policy here: the set a replacing policy would face is its own.
        assert json.loads(str(learner_eligible)) == allowed
        if ctx["minor_possible"]:
            assert item not in restricted and not restricted & set(allowed)


def test_measured_figures_follow_the_truth(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    """The audience stage measures what the simulator did: counts within a few percent of the truth."""
    _, truth, db = hour
    report = build_report(db)
    visits = [v for v in truth.visits if v.left_mono is not None or v.in_view_s > 0]
    assert report.viewers == len(visits)
    true_watchers = sum(1 for v in visits if v.watch_total_s >= 1.0)
    assert report.watchers == pytest.approx(true_watchers, rel=0.1)
    true_attention = sum(v.facing_s for v in visits)
    assert report.attention_s + 0.0 == pytest.approx(true_attention, rel=0.1)
    assert 0 < report.notice_rate.low < report.notice_rate.high < 1
    assert report.hold_rate.value is not None and report.plays == len(rows(db, "SELECT id FROM plays"))


def test_cli_demo_headless_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.db"
    code = main(["demo", "--headless", "--minutes", "5", "--speed", "0", "--db", str(db), "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "running headless" not in out  # --headless asked for it: no need to say why
    for label in ("plays", "passers-by", "watchers", "notice rate", "hold rate", "attention"):
        assert label in out
    assert main(["report", "--db", str(db)]) == 0
    assert "notice rate" in capsys.readouterr().out
    assert main(["report", "--db", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plays"] > 20 and data["sessions"] == 1


def test_cli_demo_without_display_says_headless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["demo", "--minutes", "1", "--speed", "0", "--db", str(tmp_path / "d.db")]) == 0
    assert "no display found, running headless" in capsys.readouterr().out


def test_report_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(tmp_path / "missing.db")]) == 2
    assert "no database" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    assert main(["report", "--db", str(junk)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_engine_keeps_running_while_the_database_is_locked(pool: ContentPool, tmp_path: Path) -> None:
    """Another process locks the database for a while: the loop runs on, rows wait in memory, and land later."""
    db = tmp_path / "locked.db"
    StoreWriter(StoreConfig(), path=db).start().close()  # create and migrate it
    locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    config = Config.model_validate({"store": {"busy_timeout_s": 0.05, "retry_initial_s": 0.05, "retry_max_s": 0.2}})
    released = threading.Event()

    def release_later() -> None:
        time.sleep(1.5)
        locker.execute("ROLLBACK")
        locker.close()
        released.set()

    threading.Thread(target=release_later, daemon=True).start()
    started = time.monotonic()
    summary, _, store = run_engine(pool, db, minutes=10, config=config, speed=300.0)  # 2 s of real time
    assert released.is_set() and time.monotonic() - started < 15
    assert summary.ticks == 6000 and summary.store_clean
    assert store.health().failed_attempts > 0  # it really was refused for a while
    report = build_report(db)
    assert report.plays == summary.plays and report.open_rows == 0


def test_restricted_item_is_cut_when_a_possible_minor_appears(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    """A restricted item on screen is replaced in the tick a possible minor is first seen: their exposure to it
    lasts zero seconds, and the next decision says why it was made."""
    _, _, db = hour
    minors_on_restricted = rows(
        db,
        "SELECT x.dwell_s FROM exposures x JOIN viewers v ON v.id = x.viewer_id "
        "WHERE x.item_id IN ('wine-tasting', 'credit-card') AND v.age_band IN ('child', 'teen', 'unknown')",
    )
    assert minors_on_restricted, "the hour should contain possible minors arriving during restricted items"
    assert all(dwell == 0.0 for (dwell,) in minors_on_restricted)
    assert rows(db, "SELECT COUNT(*) FROM decisions WHERE trigger = 'restricted_preempt'")[0][0] > 0


def test_cli_demo_with_an_unwritable_database_keeps_playing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The database cannot even be created (its folder is a file): the demo still runs to the end, says why the
    store failed, and exits non-zero."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    config = tmp_path / "fast.toml"
    config.write_text("[store]\nretry_initial_s = 0.05\nretry_max_s = 0.1\n")
    code = main(
        ["demo", "--headless", "--minutes", "2", "--speed", "0", "--config", str(config), "--db", str(blocker / "x.db")]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "2.0 simulated minutes" in captured.out
    assert "cannot write" in captured.err and "not-a-folder" in captured.err


def test_reidentification_keys_never_reach_the_database(hour: tuple[RunSummary, SimTruth, Path]) -> None:
    """The virtual store hands out re-identification keys ("person-N"); they stay in RAM."""
    _, truth, db = hour
    assert any(v.flagged_returning for v in truth.visits)
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert "person-" not in dump and "unmatched-" not in dump


def test_a_reader_opens_the_detail_page(hour: tuple[RunSummary, SimTruth, Path], pool: ContentPool) -> None:
    """Simulated readers open an item's detail page: a rule, logged with propensity 1; the policy never picks a
    detail page on its own, and the page follows the item that was being read."""
    _, _, db = hour
    details = {item.item_id: item.detail_id for item in pool.items if item.detail_id}
    interactive = rows(
        db, "SELECT id, item_id, propensity, policy, arm, t_mono FROM decisions WHERE trigger = 'interactive'"
    )
    assert interactive, "the hour should contain readers of items with detail pages"
    for _, item_id, propensity, policy, arm, t in interactive:
        assert item_id in details.values() and propensity == 1.0 and policy == "interactive" and arm == "rule"
        (read,) = rows(db, f"SELECT item_id FROM plays WHERE started_mono < {t} ORDER BY started_mono DESC LIMIT 1")
        assert details.get(str(read[0])) == item_id
    chosen = {r[0] for r in rows(db, "SELECT item_id FROM decisions WHERE trigger != 'interactive'")}
    assert not chosen & set(details.values())


def test_each_exposure_teaches_the_policy_once_detail_pages_included(
    hour: tuple[RunSummary, SimTruth, Path], hour_policy: LearnLog, pool: ContentPool
) -> None:
    """A viewer's watch of one play is one exposure and one reward, even when the next item takes a while to
    appear or a detail page waits for the item's minimum display time; and a detail page's exposures teach the
    policy like any other's (whether detail pages hold attention is learned)."""
    _, _, db = hour
    split = rows(db, "SELECT viewer_id, play_id FROM exposures GROUP BY viewer_id, play_id HAVING COUNT(*) > 1")
    assert split == []
    learned = sorted((item_id, round(reward, 6)) for item_id, reward in hour_policy.learned)
    logged = rows(db, "SELECT item_id, reward FROM exposures WHERE reward IS NOT NULL")
    assert learned == sorted((str(item_id), round(float(reward), 6)) for item_id, reward in logged)  # type: ignore[arg-type]
    pages = {item.detail_id for item in pool.items if item.detail_id}
    assert any(item_id in pages for item_id, _ in learned), "readers' detail pages should be learned"


def test_an_arrival_preempts_an_item_chosen_for_an_empty_aisle(
    hour: tuple[RunSummary, SimTruth, Path], pool: ContentPool
) -> None:
    """Someone comes into view while the item on screen was chosen for nobody: a new decision is made for them at
    once, and its item appears once the current one had its minimum display time (not at the current one's end)."""
    _, _, db = hour
    min_display_s = Config().player.min_display_s
    preempts = rows(db, "SELECT id, context, t_mono FROM decisions WHERE trigger = 'preempt'")
    assert len(preempts) >= 10, "a busy hour has many arrivals during items chosen for an empty aisle"
    cut_short = 0
    for decision_id, context, t in preempts:
        assert json.loads(str(context))["n_present"] >= 1
        ((before_decision, before_item, before_start, before_end),) = rows(
            db,
            "SELECT decision_id, item_id, started_mono, ended_mono FROM plays "
            f"WHERE started_mono <= {t} AND decision_id != '{decision_id}' ORDER BY started_mono DESC LIMIT 1",
        )
        ((before_context,),) = rows(db, f"SELECT context FROM decisions WHERE id = '{before_decision}'")
        assert json.loads(str(before_context))["n_present"] == 0, "only an item chosen for nobody is preempted"
        started = rows(db, f"SELECT started_mono FROM plays WHERE decision_id = '{decision_id}'")
        if started:  # the preempting item appears after the minimum display time of the one it replaces
            assert float(started[0][0]) >= float(before_start) + min_display_s - 0.1  # type: ignore[arg-type]
            shown_s = float(before_end) - float(before_start)  # type: ignore[arg-type]
            cut_short += shown_s < pool.item(str(before_item)).duration_s - 0.5
    assert cut_short > 0, "some preempted items gave way before their own end"


def test_the_pool_reloads_while_the_engine_runs(tmp_path: Path) -> None:
    """An operator removes an item from pool.toml: the engine stops choosing it without a restart; a broken
    manifest afterwards is rejected and the last good pool keeps playing."""
    import shutil

    from signage.content_watch import PoolWatcher

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    manifest = content / "pool.toml"
    pool = load_pool(manifest)
    config = Config()
    clock = SimClock(start_utc=START)
    source = VirtualStore(config.sim, start_utc=START, timezone=config.screen.timezone, items=pool.items)
    decider = Decider(
        RoundRobinPolicy(order=[i.item_id for i in pool.rotation]),
        pool.rotation,
        timezone="Europe/Berlin",
        fallback_item=None,
        rules=config.rules,
    )
    store = StoreWriter(config.store, path=tmp_path / "reload.db").start()
    watcher = PoolWatcher(manifest, interval_s=0.0)
    engine = Engine(
        config,
        source=source,
        pool=pool,
        decider=decider,
        store=store,
        clock=clock,
        screen=InstantScreen(),
        pool_watcher=watcher,
    )

    def run(seconds: float) -> None:
        for _ in range(round(seconds / config.sim.tick_s)):
            engine.tick()
            engine.present()
            clock.advance(config.sim.tick_s)

    run(120)
    changed_at = clock.monotonic()
    blocks = manifest.read_text().split("[[item]]")
    manifest.write_text("[[item]]".join(b for b in blocks if 'id = "bakery"' not in b))
    run(240)
    broken_at = clock.monotonic()
    manifest.write_text("[[item]]\nid = \n")
    run(120)
    engine.finish()
    store.close()
    db = tmp_path / "reload.db"
    before = rows(db, f"SELECT COUNT(*) FROM decisions WHERE item_id = 'bakery' AND t_mono < {changed_at}")[0][0]
    after = rows(db, f"SELECT COUNT(*) FROM decisions WHERE item_id = 'bakery' AND t_mono > {changed_at + 1}")[0][0]
    assert before > 0 and after == 0
    assert rows(db, f"SELECT COUNT(*) FROM decisions WHERE t_mono > {broken_at + 1}")[0][0] > 5
    assert watcher.pool.ids == tuple(i for i in pool.ids if i != "bakery")


@pytest.mark.parametrize("kind", ["held", "duration_weighted"])
def test_the_reward_kind_is_what_the_logs_hold_and_the_policy_learns(
    pool: ContentPool, tmp_path: Path, kind: str
) -> None:
    """`[decision] reward`: held counts each viewer who stopped as 1, duration_weighted the share of the item's
    length watched; the exposure rows and what the policy is taught agree."""
    config = Config()
    config = config.model_copy(update={"decision": config.decision.model_copy(update={"reward": kind})})
    policy = LearnLog(order=[i.item_id for i in pool.rotation])
    db = tmp_path / "reward.db"
    run_engine(pool, db, minutes=10, config=config, policy=policy)
    logged = rows(db, "SELECT item_id, attention_s, held, reward FROM exposures WHERE reward IS NOT NULL")
    assert len(logged) > 20 and any(float(r[1]) > 0 for r in logged)  # type: ignore[arg-type]
    for item_id, attention_s, held, reward in logged:
        if kind == "held":
            assert reward == (1.0 if held else 0.0)
        else:
            share = min(1.0, float(attention_s) / pool.item(str(item_id)).duration_s)  # type: ignore[arg-type]
            assert reward == pytest.approx(share)
    learned = sorted((item_id, round(reward, 6)) for item_id, reward in policy.learned)
    assert learned == sorted((str(r[0]), round(float(r[3]), 6)) for r in logged)  # type: ignore[arg-type]


def test_a_failure_inside_the_run_still_closes_the_rows_and_saves_the_policy(pool: ContentPool, tmp_path: Path) -> None:
    """Whatever breaks the run loop is raised, but only after the open rows were closed and what was learned was
    saved: a crash loses as little as it can."""
    from signage.decision.persistence import SnapshotSaver, read_snapshot_info
    from signage.decision.policies import build_policy

    class Breaking(VirtualStore):
        def step(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            if self.steps_left == 0:
                raise RuntimeError("the sensor thread died")
            self.steps_left -= 1
            return super().step(*args, **kwargs)  # type: ignore[arg-type]

    config = Config()
    source = Breaking(config.sim, start_utc=START, timezone=config.screen.timezone, items=pool.items)
    source.steps_left = 3000  # 5 simulated minutes
    decider = Decider.from_config(build_policy("contextual", items=pool.rotation), pool.rotation, config)
    db, snapshot = tmp_path / "broken.db", tmp_path / "policy.snapshot"
    store = StoreWriter(config.store, path=db).start()
    engine = Engine(
        config, source=source, pool=pool, decider=decider, store=store, clock=SimClock(start_utc=START),
        screen=InstantScreen(), snapshots=SnapshotSaver(path=snapshot, every_s=3600.0),
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="sensor thread died"):
        engine.run_simulated(600.0, tick_s=config.sim.tick_s, speed=0.0, frame_interval_s=1.0)
    store.close()
    assert rows(db, "SELECT status FROM sessions") == [("closed",)]
    assert rows(db, "SELECT COUNT(*) FROM plays WHERE status != 'closed'") == [(0,)]
    assert read_snapshot_info(snapshot).updates == decider.policy.updates > 0  # type: ignore[attr-defined]
