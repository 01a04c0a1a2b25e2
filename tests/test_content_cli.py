"""`signage content validate|list|add` on real manifests and files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pygame
import pytest

from signage.cli import main
from signage.content import load_pool

SAMPLE = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "content", ignore=shutil.ignore_patterns("*.py", "README.md"))
    return tmp_path / "content" / "pool.toml"


def test_validate_the_sample_pool(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "validate", "--pool", str(pool)]) == 0
    assert "ok (14 items: 9 image, 3 video, 2 text)" in capsys.readouterr().out


def test_validate_reports_a_corrupt_file_by_item(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pool.parent / "videos" / "phone.mp4").write_bytes(b"not a video" * 50)
    (pool.parent / "images" / "toys.png").write_bytes(b"\x89PNG broken")
    assert main(["content", "validate", "--pool", str(pool)]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "item 3 (id 'toys'): file:" in err and "item 6 (id 'phone'): file:" in err


def test_validate_reports_manifest_problems(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool.write_text(pool.read_text().replace("duration_s = 7", "duration_s = 0"), encoding="utf-8")
    assert main(["content", "validate", "--pool", str(pool)]) == 2
    assert "item 1 (id 'bakery'): duration_s = 0" in capsys.readouterr().err


def test_list_as_table_and_json(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "list", "--pool", str(pool)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["id", "kind", "duration_s"]
    assert len(table) == 15 and table[1].split()[:2] == ["coffee", "video"]
    assert main(["content", "list", "--pool", str(pool), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows][:2] == ["coffee", "bakery"]
    assert rows[0]["file"] == "videos/coffee.mp4" and rows[0]["motion"] is True


def test_add_copies_an_outside_file_and_validates(pool: Path, tmp_path: Path) -> None:
    outside = tmp_path / "Summer Promo.png"
    surface = pygame.Surface((160, 90))
    surface.fill((10, 120, 200))
    pygame.image.save(surface, str(outside))
    argv = ["content", "add", str(outside), "--pool", str(pool), "--advertiser", "Acme", "--category", "store"]
    assert main([*argv, "--tags", "summer,sale", "--title", 'Summer "Sale"', "--duration", "5"]) == 0
    item = load_pool(pool).item("Summer-Promo")
    assert item.title == 'Summer "Sale"' and item.tags == ("summer", "sale") and item.duration_s == 5.0
    assert Path(item.path) == (pool.parent / "images" / "Summer Promo.png").resolve()
    assert main(argv) == 2, "a second add with the same id is refused"
    assert len(load_pool(pool)) == 15


def test_add_text_item_and_reject_bad_input(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["content", "add", "--pool", str(pool), "--advertiser", "Store", "--category", "store"]
    assert main([*base, "--kind", "text", "--id", "closing", "--title", "Closing soon"]) == 0
    assert load_pool(pool).item("closing").title == "Closing soon"
    before = pool.read_text()
    assert main([*base, "--kind", "text", "--id", "bad", "--tags", "Not A Tag", "--title", "x"]) == 2
    assert "a tag must be a short lowercase word" in capsys.readouterr().err
    assert pool.read_text() == before, "a rejected add leaves the manifest as it was"
    assert not list(pool.parent.glob(".*adding")), "no temporary file is left behind"
    broken = pool.parent / "broken.png"
    broken.write_bytes(b"nope")
    assert main([*base, str(broken)]) == 2
    assert "not a readable image" in capsys.readouterr().err


def test_list_shows_an_items_own_schedule_and_shares(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "list", "--pool", str(pool), "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["wine-tasting"]["schedule"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "11:00", "end": "22:00"}
    ]
    assert (rows["loyalty-app"]["share_min"], rows["loyalty-app"]["share_max"]) == (0.05, 0.3)
    assert rows["coffee"]["schedule"] is None and rows["coffee"]["share_min"] is None


def test_validate_names_the_item_with_a_bad_schedule(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool.write_text(pool.read_text().replace('end = "22:00"', 'end = "22:70"'), encoding="utf-8")
    assert main(["content", "validate", "--pool", str(pool)]) == 2
    assert "item 4 (id 'wine-tasting'): schedule.0.end = '22:70'" in capsys.readouterr().err


def test_add_with_schedule_dates_shares_and_detail(pool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["content", "add", "--pool", str(pool), "--kind", "text", "--title", "Happy hour", "--id", "happy"]
    argv += ["--advertiser", "Store", "--category", "store", "--detail", "coffee-detail"]
    argv += ["--schedule", "mon-wed,fri 16:00-18:00", "--schedule", "sat-sun 22:00-02:00"]
    argv += ["--start-date", "2026-03-01", "--end-date", "2026-03-31", "--share-min", "0.05", "--share-max", "0.2"]
    assert main(argv) == 0, capsys.readouterr().err
    loaded = load_pool(pool)
    assert loaded.item("happy").detail_id == "coffee-detail"
    rules = loaded.item_rules["happy"]
    assert [(w.days, w.start, w.end) for w in rules.windows] == [
        (["mon", "tue", "wed", "fri"], "16:00", "18:00"),
        (["sat", "sun"], "22:00", "02:00"),
    ]
    assert str(rules.start_date) == "2026-03-01" and str(rules.end_date) == "2026-03-31"
    assert (rules.min_share, rules.max_share) == (0.05, 0.2)
    capsys.readouterr()
    assert main(["content", "list", "--pool", str(pool), "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == "happy")
    assert row["share_min"] == 0.05 and row["schedule"][1]["days"] == ["sat", "sun"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--schedule", "mon-xyz 10:00-12:00"], "'mon-xyz' is not a day"),
        (["--schedule", "10:00"], "expected '[DAYS ]HH:MM-HH:MM'"),
        (["--schedule", "mon 25:00-26:00"], "HH:MM"),
        (["--start-date", "March 1"], "expected a date YYYY-MM-DD"),
        (["--share-min", "1.5"], "share_min"),
        (["--detail", "nope"], "nope"),
    ],
)
def test_add_rejects_bad_rule_flags(
    pool: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    before = pool.read_text()
    argv = ["content", "add", "--pool", str(pool), "--kind", "text", "--title", "X", "--id", "x"]
    assert main([*argv, "--advertiser", "Store", "--category", "store", *flags]) == 2
    assert message in capsys.readouterr().err
    assert pool.read_text() == before, "a rejected add leaves the manifest as it was"
