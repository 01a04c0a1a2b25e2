"""The content pool loader: the sample pool, and every way a manifest can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from signage.content import ContentPool, PoolError, load_pool
from signage.types import ContentItem, ContentKind

SAMPLE_POOL = Path(__file__).resolve().parent.parent / "content" / "pool.toml"

GOOD_ITEM = """
[[item]]
id = "a"
file = "a.png"
kind = "image"
duration_s = 8
advertiser = "Acme"
category = "food"
tags = ["coffee", "warm"]
"""


def write_pool(tmp_path: Path, text: str) -> Path:
    (tmp_path / "a.png").write_bytes(b"not read by the loader")
    manifest = tmp_path / "pool.toml"
    manifest.write_text(text, encoding="utf-8")
    return manifest


def problems_of(manifest: Path) -> list[str]:
    with pytest.raises(PoolError) as info:
        load_pool(manifest)
    assert str(manifest) in str(info.value)
    for problem in info.value.problems:
        assert problem in str(info.value)
    return info.value.problems


# --- the sample pool ---------------------------------------------------------------------------------------------


def test_sample_pool_loads() -> None:
    pool = load_pool(SAMPLE_POOL)
    assert len(pool) == len(pool.items) >= 10
    assert len(set(pool.ids)) == len(pool.ids)
    assert pool.base_dir == SAMPLE_POOL.parent
    images = [item for item in pool if item.kind is ContentKind.IMAGE]
    videos = [item for item in pool if item.kind is ContentKind.VIDEO]
    assert len(images) >= 7
    assert {item.item_id for item in videos} == {item.item_id for item in pool if item.motion}
    for item in images + videos:
        path = Path(item.path)
        assert path.is_file(), item
        assert path.suffix == (".png" if item.kind is ContentKind.IMAGE else ".mp4")
        assert path.stat().st_size < 400 * 1024, f"{path.name} is too big for the repository"
    assert all(6 <= item.duration_s <= 12 for item in pool.rotation)
    assert all(item.duration_s <= 20 for item in pool)
    assert all(item.tags and all(tag == tag.lower() for tag in item.tags) for item in pool)
    assert sum(item.motion for item in pool) == 3
    assert {item.category for item in pool if item.restricted} == {"alcohol", "finance"}
    assert pool.item("wine-tasting").restricted
    assert not pool.item("coffee").restricted


def test_sample_media_are_small_in_total() -> None:
    media = [*(SAMPLE_POOL.parent / "images").glob("*.png"), *(SAMPLE_POOL.parent / "videos").glob("*.mp4")]
    total = sum(path.stat().st_size for path in media)
    assert 0 < total < 3 * 1024 * 1024


def test_lookup_by_id_and_unknown_id() -> None:
    pool = load_pool(SAMPLE_POOL)
    assert pool.item("coffee").item_id == "coffee"
    assert pool.ids[0] == pool.items[0].item_id
    with pytest.raises(KeyError, match="no content item 'nope'"):
        pool.item("nope")


def test_pool_rejects_duplicate_ids_when_built_directly() -> None:
    item = ContentItem("x", "x.png", ContentKind.IMAGE, 5.0, "Acme", "food")
    with pytest.raises(ValueError, match="unique"):
        ContentPool(base_dir=Path(), items=(item, item))


def test_paths_resolve_against_the_manifest_not_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "pool"
    (sub / "img").mkdir(parents=True)
    (sub / "img" / "a.png").write_bytes(b"x")
    manifest = sub / "pool.toml"
    manifest.write_text(GOOD_ITEM.replace('"a.png"', '"img/a.png"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    pool = load_pool(Path("pool/pool.toml"))
    assert Path(pool.item("a").path) == (sub / "img" / "a.png").resolve()
    assert pool.base_dir == sub.resolve()
    item = pool.item("a")
    assert item.kind is ContentKind.IMAGE
    assert item.tags == ("coffee", "warm")
    assert item.duration_s == 8.0
    assert (item.motion, item.restricted, item.title) == (False, False, "")


def test_text_item_needs_no_file(tmp_path: Path) -> None:
    manifest = write_pool(
        tmp_path,
        '[[item]]\nid = "hours"\nkind = "text"\nduration_s = 6\nadvertiser = "Store"\ncategory = "store"\n'
        'title = "Open 8-21"\n',
    )
    item = load_pool(manifest).item("hours")
    assert item.kind is ContentKind.TEXT
    assert item.path == ""
    assert item.title == "Open 8-21"


# --- every error path --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(GOOD_ITEM + 'colour = "red"\n', ["item 0 (id 'a'): colour", "unknown key"], id="unknown-key"),
        pytest.param(GOOD_ITEM.replace('"image"', '"poster"'), ["item 0 (id 'a'): kind", "'poster'"], id="bad-kind"),
        pytest.param(
            GOOD_ITEM.replace("duration_s = 8", "duration_s = -3"),
            ["item 0 (id 'a'): duration_s = -3", "greater than 0"],
            id="negative-duration",
        ),
        pytest.param(
            GOOD_ITEM.replace("duration_s = 8", 'duration_s = "8"'),
            ["item 0 (id 'a'): duration_s", "valid number"],
            id="duration-as-string",
        ),
        pytest.param(GOOD_ITEM + 'motion = "yes"\n', ["item 0 (id 'a'): motion", "valid boolean"], id="bool-as-str"),
        pytest.param(GOOD_ITEM + GOOD_ITEM, ["item 1 (id 'a'): id: duplicate of item 0"], id="duplicate-id"),
        pytest.param(
            GOOD_ITEM.replace('"a.png"', '"missing.png"'),
            ["item 0 (id 'a'): file = 'missing.png': not found"],
            id="missing-file",
        ),
        pytest.param(
            GOOD_ITEM.replace('file = "a.png"\n', ""),
            ["item 0 (id 'a'): file: required for kind 'image'"],
            id="image-without-file",
        ),
        pytest.param(
            GOOD_ITEM.replace('"image"', '"text"').replace('file = "a.png"\n', ""),
            ["item 0 (id 'a'): title: required for kind 'text'"],
            id="text-without-title",
        ),
        pytest.param(
            GOOD_ITEM.replace('"warm"', '"Warm Drinks"'),
            ["item 0 (id 'a'): tags.1 = 'Warm Drinks': a tag must be a short lowercase word"],
            id="bad-tag",
        ),
        pytest.param(GOOD_ITEM.replace('id = "a"\n', ""), ["item 0: id: required key is missing"], id="missing-id"),
        pytest.param(GOOD_ITEM.replace('id = "a"', 'id = "a b"'), ["item 0 (id 'a b'): id"], id="bad-id"),
        pytest.param('screen = "x"\n' + GOOD_ITEM, ["screen: unknown top-level key"], id="unknown-top-level"),
        pytest.param("# nothing here\n", ["no items"], id="empty"),
        pytest.param(GOOD_ITEM + "[[item]\n", ["not valid TOML"], id="bad-toml"),
    ],
)
def test_each_problem_is_reported(tmp_path: Path, text: str, expected: list[str]) -> None:
    problems = problems_of(write_pool(tmp_path, text))
    assert len(problems) == 1, problems
    for fragment in expected:
        assert fragment in problems[0]


def test_missing_manifest(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.toml")[0].startswith("manifest file not found; set [content] pool")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        GOOD_ITEM
        + GOOD_ITEM.replace('id = "a"', 'id = "b"').replace("duration_s = 8", "duration_s = 0")
        + GOOD_ITEM.replace('id = "a"', 'id = "c"').replace('"a.png"', '"gone.png"') + 'extra = 1\n'
        + GOOD_ITEM.replace('id = "a"', 'id = "d"').replace('"a.png"', '"gone.png"')
        + GOOD_ITEM
    )  # fmt: skip
    problems = problems_of(write_pool(tmp_path, text))
    assert len(problems) == 4, problems
    assert problems[0].startswith("item 1 (id 'b'): duration_s = 0:")
    assert problems[1].startswith("item 2 (id 'c'): extra = 1: unknown key")
    assert problems[2].startswith("item 3 (id 'd'): file = 'gone.png': not found")
    assert problems[3].startswith("item 4 (id 'a'): id: duplicate of item 0")


# --- detail pages --------------------------------------------------------------------------------------------------


def test_sample_pool_has_detail_pages_outside_the_rotation() -> None:
    pool = load_pool(SAMPLE_POOL)
    parents = {item.item_id: item.detail_id for item in pool if item.detail_id}
    assert len(parents) >= 2
    assert pool.detail_pages == frozenset(parents.values())
    kinds = {pool.item(page).kind for page in pool.detail_pages}
    assert ContentKind.IMAGE in kinds and ContentKind.TEXT in kinds
    assert not pool.detail_pages & {item.item_id for item in pool.rotation}
    for parent, page in parents.items():
        assert pool.detail_of(parent) == pool.item(page)
        assert pool.item(page).advertiser == pool.item(parent).advertiser
    assert pool.detail_of("bakery") is None and pool.detail_of("no-such-item") is None


def _items(*tables: str) -> str:
    return "\n".join(
        f'[[item]]\nid = "{item_id}"\nkind = "text"\ntitle = "T"\nduration_s = 5\nadvertiser = "A"\n'
        f'category = "c"\n' + (f'detail = "{detail}"\n' if detail else "")
        for item_id, _, detail in (table.partition(">") for table in tables)
    )


def test_detail_key_becomes_detail_id_and_chains_are_allowed(tmp_path: Path) -> None:
    pool = load_pool(write_pool(tmp_path, _items("a>b", "b>c", "c")))
    assert [item.detail_id for item in pool] == ["b", "c", ""]
    assert pool.detail_pages == {"b", "c"}
    assert [item.item_id for item in pool.rotation] == ["a"]


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        (("a>zz", "b"), ["item 0 (id 'a'): detail = 'zz': no item with this id in the pool"]),
        (("a>a", "b"), ["item 0 (id 'a'): detail: 'a' is the item itself (a detail page must be another item)"]),
        (
            ("a>b", "b>a", "c"),
            [
                "item 0 (id 'a'): detail = 'b': details lead in a circle (a -> b -> a)",
                "item 1 (id 'b'): detail = 'a': details lead in a circle (b -> a -> b)",
            ],
        ),
        (("x>a", "a>b", "b>a"), ["item 0 (id 'x'): detail = 'a': details lead in a circle (a -> b -> a)"]),
    ],
)
def test_bad_details_are_rejected_with_the_reason(tmp_path: Path, tables: tuple[str, ...], expected: list[str]) -> None:
    problems = problems_of(write_pool(tmp_path, _items(*tables)))
    for line in expected:
        assert line in problems, problems


# --- an item's own schedule and share targets ------------------------------------------------------------------


def test_sample_pool_carries_schedules_and_shares_of_its_own() -> None:
    pool = load_pool(SAMPLE_POOL)
    assert set(pool.item_rules) == {"wine-tasting", "loyalty-app"}
    wine = pool.item_rules["wine-tasting"]
    assert [(w.start, w.end, len(w.days)) for w in wine.windows] == [("11:00", "22:00", 7)]
    assert wine.model_fields_set == {"windows"}  # only the keys the manifest set: the rest stays with [rules]
    loyalty = pool.item_rules["loyalty-app"]
    assert (loyalty.min_share, loyalty.max_share) == (0.05, 0.3)
    assert loyalty.model_fields_set == {"min_share", "max_share"}


def test_item_rules_are_read_and_kept_only_for_items_in_the_pool(tmp_path: Path) -> None:
    manifest = write_pool(
        tmp_path,
        GOOD_ITEM
        + 'schedule = [{ days = ["fri", "sat"], start = "22:00", end = "02:00" }]\n'
        + "start_date = 2026-03-01\nend_date = 2026-03-31\nshare_min = 0.1\n"
        + GOOD_ITEM.replace('id = "a"', 'id = "b"'),
    )
    pool = load_pool(manifest)
    rules = pool.item_rules["a"]
    assert [(w.days, w.start, w.end) for w in rules.windows] == [(["fri", "sat"], "22:00", "02:00")]
    assert (str(rules.start_date), str(rules.end_date), rules.min_share, rules.max_share) == (
        "2026-03-01",
        "2026-03-31",
        0.1,
        None,
    )
    assert "b" not in pool.item_rules
    without_a = ContentPool(base_dir=pool.base_dir, items=(pool.item("b"),), item_rules=pool.item_rules)
    assert dict(without_a.item_rules) == {}  # a quarantined item takes its rules with it


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            'schedule = [{ start = "07:60", end = "11:00" }]\n',
            "item 0 (id 'a'): schedule.0.start = '07:60': expected a local time HH:MM",
            id="bad-time",
        ),
        pytest.param(
            'schedule = [{ days = ["mo"], start = "07:00", end = "11:00" }]\n',
            "item 0 (id 'a'): schedule.0.days.0 = 'mo'",
            id="bad-day",
        ),
        pytest.param(
            'schedule = [{ start = "07:00", end = "07:00" }]\n',
            "item 0 (id 'a'): schedule.0: start and end are both 07:00: the window is empty",
            id="empty-window",
        ),
        pytest.param(
            'schedule = [{ from = "07:00" }]\n',
            "item 0 (id 'a'): schedule.0.from = '07:00': unknown key",
            id="window-key",
        ),
        pytest.param("share_min = 1.5\n", "item 0 (id 'a'): share_min = 1.5: Input should be less than", id="share>1"),
        pytest.param(
            "share_min = 0.3\nshare_max = 0.2\n", "item 0 (id 'a'): share_min 0.3 is above share_max 0.2", id="min>max"
        ),
        pytest.param(
            "start_date = 2026-03-05\nend_date = 2026-03-01\n",
            "item 0 (id 'a'): end_date 2026-03-01 is before start_date 2026-03-05",
            id="dates",
        ),
        pytest.param('start_date = "2026-03-05"\n', "item 0 (id 'a'): start_date = '2026-03-05'", id="date-as-text"),
    ],
)
def test_bad_schedules_and_shares_name_the_item_and_the_problem(tmp_path: Path, extra: str, expected: str) -> None:
    problems = problems_of(write_pool(tmp_path, GOOD_ITEM + extra))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_pool_wide_share_and_detail_page_problems(tmp_path: Path) -> None:
    text = (
        GOOD_ITEM + 'detail = "b"\nshare_min = 0.6\n'
        + GOOD_ITEM.replace('id = "a"', 'id = "b"') + "share_min = 0.5\n"
    )  # fmt: skip
    problems = problems_of(write_pool(tmp_path, text))
    assert problems == [
        "item 1 (id 'b'): schedule/share keys on a detail page: detail pages open when a viewer reads their item, "
        "not by the rules (set them on the item that leads here)",
        "share_min: the items' guaranteed shares add up to 1.1 (a 0.6, b 0.5), more than 1",
    ]
