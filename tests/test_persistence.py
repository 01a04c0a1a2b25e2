"""Snapshots of the learned state: atomic round trips, refusal of another policy or version, corrupt files moved
aside (the engine starts fresh, never crashes), the periodic saver, and `signage policy show|reset`."""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signage.cli import main
from signage.decision.persistence import (
    MAGIC,
    SnapshotError,
    SnapshotMismatchError,
    SnapshotSaver,
    load_snapshot,
    read_snapshot_info,
    reset_request_path,
    restore_policy,
    save_snapshot,
)
from signage.decision.policies import ContextualPolicy, RandomPolicy, build_policy
from signage.types import ContentItem, ContentKind, Context

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
ITEMS = tuple(
    ContentItem(f"item-{i}", "", ContentKind.TEXT, 8.0, f"adv-{i % 2}", ("food", "toys", "tech")[i % 3])
    for i in range(6)
)


def ctx(child: float) -> Context:
    features = {"age_child": child, "age_adult": 1.0 - child, "group_max": 2.0}
    return Context(NOW, 12, 1, 2, 1, child > 0, False, True, features)


def trained(seed: int = 1) -> ContextualPolicy:
    policy = ContextualPolicy(seed=seed)
    for step in range(200):
        context = ctx(float(step % 2))
        decision = policy.select(context, ITEMS)
        liked = (decision.item_id == "item-1") == (step % 2 == 1)
        policy.learn(context, decision.item_id, 15.0 if liked else 1.0)
    return policy


def test_round_trip_keeps_the_learned_state(tmp_path: Path) -> None:
    policy = trained()
    path = tmp_path / "state" / "policy.snapshot"
    info = save_snapshot(policy, path, now_utc=NOW)
    assert info.policy == "contextual" and info.version == policy.version and info.updates == 200
    assert [p.name for p in path.parent.iterdir()] == ["policy.snapshot"]  # no temporary file left behind
    loaded = load_snapshot(path, policy="contextual", version=policy.version)
    assert isinstance(loaded, ContextualPolicy)
    for child in (0.0, 1.0):
        assert loaded.probabilities(ctx(child), ITEMS) == policy.probabilities(ctx(child), ITEMS)
    assert read_snapshot_info(path) == info


def test_a_failed_save_leaves_the_previous_snapshot_whole(tmp_path: Path) -> None:
    path = tmp_path / "policy.snapshot"
    save_snapshot(trained(), path)
    before = path.read_bytes()
    broken = trained()
    broken._rng = lambda: None  # type: ignore[assignment,method-assign,misc]  # a lambda does not pickle
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_snapshot(broken, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["policy.snapshot"]


def test_a_snapshot_of_another_policy_or_version_is_refused_and_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.snapshot"
    save_snapshot(RandomPolicy(seed=1), path)
    with pytest.raises(SnapshotMismatchError, match="holds policy random version 1; the engine runs contextual"):
        load_snapshot(path, policy="contextual", version="2")
    fresh = ContextualPolicy(seed=1)
    with caplog.at_level(logging.WARNING):
        assert restore_policy(fresh, path, now_utc=NOW) is fresh
    assert "holds policy random" in caplog.text and "starts fresh" in caplog.text
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["policy.snapshot.mismatch-20260303T120000000000Z"]

    save_snapshot(trained(), path)
    with pytest.raises(SnapshotMismatchError, match="version"):
        load_snapshot(path, policy="contextual", version="999")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"not a snapshot at all",
        lambda data: data[: len(data) // 2],  # a torn write
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # one flipped byte
        lambda data: MAGIC + b"{not json\n" + data,
        lambda data: MAGIC + b'{"format": 1}\n',
    ],
    ids=["empty", "garbage", "truncated", "flipped", "bad-header", "header-missing-fields"],
)
def test_a_corrupt_snapshot_is_moved_aside_and_the_engine_starts_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    path = tmp_path / "policy.snapshot"
    save_snapshot(trained(), path)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(SnapshotError):
        load_snapshot(path, policy="contextual", version=ContextualPolicy.version)
    fresh = ContextualPolicy(seed=1)
    with caplog.at_level(logging.WARNING):
        assert restore_policy(fresh, path, now_utc=NOW) is fresh
    assert "moved aside" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["policy.snapshot.corrupt-20260303T120000000000Z"]


def test_no_snapshot_means_a_fresh_policy(tmp_path: Path) -> None:
    fresh = build_policy("contextual", items=ITEMS)
    assert restore_policy(fresh, tmp_path / "missing.snapshot") is fresh


def test_restore_then_keep_learning_is_the_same_as_never_stopping(tmp_path: Path) -> None:
    path = tmp_path / "policy.snapshot"
    running = trained(seed=4)
    save_snapshot(running, path)
    restarted = restore_policy(ContextualPolicy(seed=4), path)
    for policy in (running, restarted):
        for step in range(50):
            context = ctx(float(step % 2))
            decision = policy.select(context, ITEMS)
            policy.learn(context, decision.item_id, 3.0)
    assert restarted.probabilities(ctx(1.0), ITEMS) == running.probabilities(ctx(1.0), ITEMS)


def test_the_saver_saves_every_interval_and_on_demand(tmp_path: Path) -> None:
    path = tmp_path / "policy.snapshot"
    saver = SnapshotSaver(path=path, every_s=300.0)
    policy = trained()
    assert not saver.maybe_save(policy, t_mono=10.0)  # the first call starts the interval
    assert not saver.maybe_save(policy, t_mono=309.0)
    assert not path.exists()
    assert saver.maybe_save(policy, t_mono=310.0)
    assert path.exists() and saver.saves == 1
    assert not saver.maybe_save(policy, t_mono=500.0)
    assert saver.save(policy)  # at finish
    assert saver.saves == 2


def test_a_failing_save_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    saver = SnapshotSaver(path=blocker / "policy.snapshot", every_s=1.0)
    with caplog.at_level(logging.WARNING):
        assert not saver.save(trained())
    assert saver.failures == 1 and "failed" in caplog.text


def test_policy_show_and_reset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.snapshot"
    config = tmp_path / "signage.toml"
    config.write_text(f"[decision]\nsnapshot_path = {str(path)!r}\n")
    assert main(["policy", "show", "--config", str(config)]) == 0
    assert "no policy snapshot" in capsys.readouterr().out
    save_snapshot(trained(), path)
    assert main(["policy", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "contextual version" in out and "rewards learned  200" in out
    unfinished = tmp_path / ".policy.snapshot.abc123.tmp"  # a save killed mid-write: learned state too
    unfinished.write_bytes(b"half a snapshot")
    assert main(["policy", "reset", "--config", str(config)]) == 0
    assert "moved aside" in capsys.readouterr().out
    assert not path.exists() and not unfinished.exists()
    assert len(list(tmp_path.glob("policy.snapshot.reset-*"))) == 1
    assert reset_request_path(path).exists()  # for a running engine
    path.write_bytes(b"garbage")
    assert main(["policy", "show", "--config", str(config)]) == 1
    assert "bad magic" in capsys.readouterr().err


def test_settings_come_from_today_config_and_the_learning_from_the_snapshot(tmp_path: Path) -> None:
    """An operator's change of temperature or exploration takes effect on restart; an older snapshot taken before a
    setting existed still loads and gets it from config."""
    path = tmp_path / "policy.snapshot"
    running = trained(seed=4)
    del running.__dict__["empty_temperature"]  # as pickled by an engine from before the setting
    save_snapshot(running, path)
    fresh = ContextualPolicy(seed=4, temperature=0.5, epsilon=0.2, empty_temperature=2.0, learning_rate=0.05)
    restored = restore_policy(fresh, path)
    assert restored is not fresh and restored.updates == 200
    assert (restored.temperature, restored.epsilon, restored.empty_temperature, restored.learning_rate) == (
        0.5,
        0.2,
        2.0,
        0.05,
    )
    # The learned weights came along: the restored ranking is the running one's.
    scores = restored._scores(ctx(1.0), ITEMS)
    assert scores == running._scores(ctx(1.0), ITEMS)


def test_a_running_engine_takes_a_reset_and_saves_the_fresh_state(tmp_path: Path) -> None:
    """`signage policy reset` while the engine runs: within a second the engine learns from scratch and saves the
    fresh state, so its periodic save cannot write the old state back; the request is then cleared."""
    from signage.clock import SimClock
    from signage.config import Config
    from signage.content import load_pool
    from signage.decision import Decider
    from signage.engine import Engine
    from signage.player import InstantScreen
    from signage.sim import VirtualStore
    from signage.store import StoreWriter

    config = Config()
    pool = load_pool(Path(config.content.pool))
    path = tmp_path / "policy.snapshot"
    old = trained()
    save_snapshot(old, path)
    clock = SimClock(start_utc=NOW)
    decider = Decider.from_config(old, pool.rotation, config, item_rules=pool.item_rules)
    writer = StoreWriter(config.store, path=tmp_path / "signage.db").start()
    saver = SnapshotSaver(path=path, every_s=300.0)
    shoppers = VirtualStore(config.sim, start_utc=NOW, timezone=config.screen.timezone, items=pool.items)
    engine = Engine(
        config, source=shoppers, pool=pool, decider=decider, store=writer, clock=clock, screen=InstantScreen(),
        snapshots=saver,
    )  # fmt: skip
    assert main(["policy", "reset", "--config", str(_config_file(tmp_path, path))]) == 0
    try:
        engine.run_simulated(30.0, tick_s=0.25, speed=0.0, frame_interval_s=1.0)
    finally:
        writer.close()
    assert decider.policy is not old and isinstance(decider.policy, ContextualPolicy)
    assert decider.policy.updates < old.updates  # 200 learned before; 30 s of shoppers since the reset
    assert not reset_request_path(path).exists()
    info = read_snapshot_info(path)  # saved at the reset and at the end: the fresh state, not the old one
    assert info.policy == "contextual" and info.updates == decider.policy.updates


def _config_file(folder: Path, snapshot: Path) -> Path:
    config = folder / "signage.toml"
    config.write_text(f"[decision]\nsnapshot_path = {str(snapshot)!r}\n")
    return config


def test_a_snapshot_learned_under_another_reward_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Weights learned on attention seconds (scale 10 s) predict in other units than a `held` reward (scale 1): after
    the operator changes `[decision] reward`, the learner starts fresh and the old state is kept aside."""
    path = tmp_path / "policy.snapshot"
    save_snapshot(trained(), path)
    fresh = ContextualPolicy(seed=1, reward_scale_s=1.0)
    with caplog.at_level(logging.WARNING):
        assert restore_policy(fresh, path) is fresh
    assert "another reward" in caplog.text and "reward_scale_s 10.0 -> 1.0" in caplog.text
    assert not path.exists() and len(list(tmp_path.glob("policy.snapshot.mismatch-*"))) == 1
    save_snapshot(trained(), path)  # the same reward: restored
    assert restore_policy(ContextualPolicy(seed=1), path).updates == 200  # type: ignore[attr-defined]
