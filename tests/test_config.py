"""Config: every error path names the key, the value and the reason; all problems are reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signage.cli import main
from signage.config import Config, ConfigError, load_config, parse_config
from signage.config.render import DEFAULT_HEADER, render_toml

ROOT = Path(__file__).resolve().parent.parent


def _bounded_fields() -> list[tuple[str, str, str, float]]:
    """(section, key, bound kind, bound) for every numeric bound declared in the config models."""
    cases = []
    for section_name, section_info in Config.model_fields.items():
        section_type = section_info.annotation
        assert section_type is not None
        for key, info in section_type.model_fields.items():  # type: ignore[union-attr]
            for meta in info.metadata:
                for kind in ("ge", "gt", "le", "lt"):
                    bound = getattr(meta, kind, None)
                    if bound is not None:
                        cases.append((section_name, key, kind, bound))
    return cases


BOUNDED = _bounded_fields()


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return [str(p) for p in info.value.problems]


def test_defaults_are_valid() -> None:
    assert Config().store.batch_max_rows >= 1


@pytest.mark.parametrize(("section", "key", "kind", "bound"), BOUNDED, ids=[f"{s}.{k}-{b}" for s, k, b, _ in BOUNDED])
def test_every_bound_is_enforced(section: str, key: str, kind: str, bound: float) -> None:
    step = 1 if isinstance(bound, int) else 0.5
    value = {"ge": bound - step, "gt": bound, "le": bound + step, "lt": bound}[kind]
    problems = _problems({section: {key: value}})
    assert len(problems) == 1
    assert problems[0].startswith(f"{section}.{key} = {value!r}: ")


def test_bounds_cover_the_numeric_keys() -> None:
    assert len(BOUNDED) >= 30


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        ({"nope": {}}, "nope", "unknown key"),
        ({"store": {"pth": "x.db"}}, "store.pth", "unknown key"),
        ({"tracking": {"max_misses": 10}}, "tracking.max_misses", "replaced by tracking.max_unseen_s"),
        ({"store": {"batch_max_rows": "many"}}, "store.batch_max_rows", "valid integer"),
        ({"player": {"fullscreen": "maybe"}}, "player.fullscreen", "valid boolean"),
        ({"screen": {"timezone": "Mars/Olympus_Mons"}}, "screen.timezone", "unknown IANA time zone"),
        ({"screen": {"id": "has space"}}, "screen.id", "pattern"),
        ({"screen": {"id": ""}}, "screen.id", "at least 1 character"),
        ({"sim": {"start_local_time": "24:00"}}, "sim.start_local_time", "HH:MM"),
        ({"sim": {"start_local_time": "noon"}}, "sim.start_local_time", "HH:MM"),
        ({"sim": {"group_size_weights": [0, 0]}}, "sim.group_size_weights", "positive sum"),
        ({"sim": {"group_size_weights": [1, -1]}}, "sim.group_size_weights", ">= 0"),
        ({"sim": {"group_size_weights": []}}, "sim.group_size_weights", "at least 1 item"),
        ({"decision": {"policy": "oracle"}}, "decision.policy", "round_robin"),
        ({"store": "not a table"}, "store", "valid dictionary"),
    ],
)
def test_bad_values_name_key_and_reason(data: dict[str, Any], key: str, reason: str) -> None:
    problems = _problems(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{key}")
    assert reason in problems[0]


def test_cross_field_rule() -> None:
    problems = _problems({"sim": {"field_width_m": 0.1, "walk_speed_m_s": 5.0, "tick_s": 0.1}})
    assert "sim" in problems[0] and "two ticks" in problems[0]


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        {
            "store": {"batch_max_rows": 0, "typo": 1},
            "audience": {"watcher_min_s": -1},
            "screen": {"timezone": "Nowhere/Town"},
            "extra": 1,
        }
    )
    keys = sorted(p.split(" ")[0] for p in problems)
    assert keys == ["audience.watcher_min_s", "extra", "screen.timezone", "store.batch_max_rows", "store.typo"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)  # a folder, not a file


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[screen]\nid = '\xe9'\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(path)


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[store]\npath = \n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "not valid TOML" in str(info.value) and "line 2" in str(info.value)


def test_load_none_gives_defaults() -> None:
    assert load_config(None) == Config()


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(ValueError, match="frozen"):
        config.store.batch_max_rows = 3  # type: ignore[misc]


def test_default_toml_matches_the_code() -> None:
    text = (ROOT / "config" / "default.toml").read_text()
    assert text == render_toml(Config(), DEFAULT_HEADER), "regenerate: python -m signage.config.render"
    assert load_config(ROOT / "config" / "default.toml") == Config()


def test_example_is_valid_and_commented() -> None:
    path = ROOT / "config" / "example.toml"
    config = load_config(path)
    assert config.screen.timezone == "Europe/Lisbon"
    assert sum(line.startswith("#") for line in path.read_text().splitlines()) >= 10


def test_cli_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = ROOT / "config" / "example.toml"
    assert main(["config", "check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\nbatch_max_rows = 0\nflush_interval_s = "fast"\n[player]\nfps = 1000\n')
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    for key in ("store.batch_max_rows = 0", "store.flush_interval_s = 'fast'", "player.fps = 1000"):
        assert key in err
