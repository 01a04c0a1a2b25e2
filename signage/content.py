"""The content pool: a TOML manifest of `[[item]]` tables, validated into frozen `ContentItem`s.

Every problem in a manifest is reported at once (unknown keys, bad values, duplicate ids, missing files), each
naming the item (index and id), the key and the reason, so an operator can fix the file in one pass.

```toml
[[item]]
id = "coffee"
file = "images/coffee.png"      # relative to this manifest; optional for kind = "text"
kind = "image"                  # image | video | text
duration_s = 8
advertiser = "Bean & Leaf"
category = "food"
tags = ["coffee", "warm"]
motion = false
restricted = false
title = "Fresh coffee"          # the card's text for kind = "text"
detail = "coffee-detail"        # optional: the item shown when a viewer reads this one (its detail page)
schedule = [{ days = ["mon", "tue", "wed", "thu", "fri"], start = "06:30", end = "11:00" }]   # optional
start_date = 2026-03-01         # optional: first and last local date it may play (both inclusive)
end_date = 2026-03-31
share_min = 0.05                # optional: guaranteed share of each local day's seconds on screen
share_max = 0.25                # optional: largest share
```

A `detail` must name another item of the pool; details may lead on to further details, but never back in a circle.
Items that are some item's detail page are `ContentPool.detail_pages`: shown on request (interactive), not
in the normal rotation, so they take no schedule or share.

The schedule and share keys are the item's own operator rules (`ContentPool.item_rules`), read in the store's time
zone like `[rules]` (DST-correct: a window means the same wall-clock hours every day). They are merged with the
config's `[rules.items.<id>]`, the pool winning key by key (see `signage.decision.rules`); caps and kill switches
stay in the config.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from signage.config.rules import ScopeRulesConfig, WindowConfig
from signage.types import ContentItem, ContentKind

__all__ = ["ContentPool", "PoolError", "load_pool"]

_KNOWN_TOP_LEVEL = frozenset({"item"})

Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=32)]


class PoolError(Exception):
    """A content pool manifest that cannot be used; `problems` lists every reason."""

    def __init__(self, source: str | Path, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid content pool {self.source}: {len(self.problems)} problem(s)\n{lines}")


class _ItemModel(BaseModel):
    """One `[[item]]` table as written in the manifest (strict: TOML already gives typed values)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Unique id: letters, digits, '_', '.', '-'.",
    )
    file: str | None = Field(default=None, min_length=1, description="Media file, relative to the manifest.")
    kind: Literal["image", "video", "text"] = Field(description="What the player shows.")
    duration_s: float = Field(gt=0, le=3600, description="How long the item plays, in seconds.")
    advertiser: str = Field(min_length=1, description="Who the item is for.")
    category: str = Field(min_length=1, description="Category, e.g. food, alcohol, finance.")
    tags: list[Tag] = Field(default_factory=list, description="Short lowercase words used as learning features.")
    motion: bool = Field(default=False, description="The item moves (animation or video).")
    restricted: bool = Field(default=False, description="Never shown when a minor may be present.")
    title: str = Field(default="", description="Human title; the card's text for kind = 'text'.")
    detail: str = Field(
        default="", description="Id of the item shown when a viewer reads this one (its detail page); optional."
    )
    schedule: list[WindowConfig] = Field(
        default_factory=list, description="Weekly local windows when the item may play (none: all day)."
    )
    start_date: date | None = Field(default=None, description="First local date the item may play.")
    end_date: date | None = Field(default=None, description="Last local date the item may play.")
    share_min: float | None = Field(default=None, ge=0, le=1, description="Guaranteed share of seconds on screen.")
    share_max: float | None = Field(default=None, ge=0, le=1, description="Largest share of seconds on screen.")

    @model_validator(mode="after")
    def _file_or_title(self) -> _ItemModel:
        if self.kind != "text" and self.file is None:
            raise ValueError(f"file: required for kind {self.kind!r} (only text items may omit it)")
        if self.kind == "text" and not self.title.strip():
            raise ValueError("title: required for kind 'text' (it is the card's text)")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError(f"tags: duplicates in {self.tags}")
        if self.detail == self.id:
            raise ValueError(f"detail: {self.detail!r} is the item itself (a detail page must be another item)")
        if self.share_min is not None and self.share_max is not None and self.share_min > self.share_max:
            raise ValueError(f"share_min {self.share_min:g} is above share_max {self.share_max:g}")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self

    def rules(self) -> ScopeRulesConfig | None:
        """The item's own operator rules, with only the keys the manifest set (None when it set none)."""
        given = {
            "windows": self.schedule if "schedule" in self.model_fields_set else None,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "min_share": self.share_min,
            "max_share": self.share_max,
        }
        given = {key: value for key, value in given.items() if value is not None}
        return ScopeRulesConfig(**given) if given else None


def _describe(index: int, raw: Any) -> str:
    item_id = raw.get("id") if isinstance(raw, dict) else None
    return f"item {index}" + (f" (id {item_id!r})" if isinstance(item_id, str) and item_id else "")


def _validation_problems(where: str, error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors(include_url=False):
        key = ".".join(str(part) for part in detail["loc"])
        kind = detail["type"]
        if kind == "extra_forbidden":
            reason = "unknown key (see content/README.md for the keys)"
        elif kind == "missing":
            reason = "required key is missing"
        elif kind == "string_pattern_mismatch" and key.startswith("tags"):
            reason = "a tag must be a short lowercase word (a-z, 0-9, '_', '-')"
        elif kind == "string_pattern_mismatch" and key == "id":
            reason = "an id may hold letters, digits, '_', '.', '-' (and starts with a letter or digit)"
        else:
            reason = detail["msg"].removeprefix("Value error, ")
        value = detail.get("input")
        shown = f" = {value!r}" if key and kind != "missing" and not isinstance(value, dict) else ""
        problems.append(f"{where}: {key}{shown}: {reason}" if key else f"{where}: {reason}")
    return problems


@dataclass(frozen=True)
class ContentPool:
    """The items a screen can play, in manifest order, with lookup by id."""

    base_dir: Path
    items: tuple[ContentItem, ...]
    # item id -> the item's own schedule and share rules from the manifest; kept only for items in `items`
    item_rules: Mapping[str, ScopeRulesConfig] = field(default_factory=lambda: MappingProxyType({}))
    _by_id: Mapping[str, ContentItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        by_id = {item.item_id: item for item in self.items}
        if len(by_id) != len(self.items):
            raise ValueError("ContentPool: item ids must be unique")
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))
        rules = {item_id: rule for item_id, rule in self.item_rules.items() if item_id in by_id}
        object.__setattr__(self, "item_rules", MappingProxyType(rules))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(item.item_id for item in self.items)

    @property
    def detail_pages(self) -> frozenset[str]:
        """Ids of the items that are another item's detail page: shown when a viewer reads that item."""
        return frozenset(item.detail_id for item in self.items if item.detail_id)

    @property
    def rotation(self) -> tuple[ContentItem, ...]:
        """The items for the normal rotation: every item but the detail pages (all of them if that left none)."""
        pages = self.detail_pages
        chosen = tuple(item for item in self.items if item.item_id not in pages)
        return chosen or self.items

    @property
    def detail_items(self) -> tuple[ContentItem, ...]:
        """The detail pages outside the rotation: the operator's rules (kill switches, blocked categories,
        restricted content, schedules) cover them too when a reader opens one."""
        in_rotation = {item.item_id for item in self.rotation}
        return tuple(
            item for item in self.items if item.item_id in self.detail_pages and item.item_id not in in_rotation
        )

    def detail_of(self, item_id: str) -> ContentItem | None:
        """The detail page of an item, if it has one and it is in this pool (a quarantined page is not)."""
        item = self._by_id.get(item_id)
        if item is None or not item.detail_id:
            return None
        return self._by_id.get(item.detail_id)

    def item(self, item_id: str) -> ContentItem:
        try:
            return self._by_id[item_id]
        except KeyError:
            raise KeyError(f"no content item {item_id!r} in the pool (known: {', '.join(self.ids)})") from None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ContentItem]:
        return iter(self.items)


def detail_problems(items: list[ContentItem], first_index: Mapping[str, int], raw_items: list[Any]) -> list[str]:
    """Every `detail` must name an item of the pool, and following details from any item must end (no circle)."""
    problems: list[str] = []
    by_id = {item.item_id: item for item in items}
    for item in items:
        if not item.detail_id:
            continue
        where = _describe(first_index[item.item_id], raw_items[first_index[item.item_id]])
        if item.detail_id not in first_index:
            problems.append(f"{where}: detail = {item.detail_id!r}: no item with this id in the pool")
            continue
        seen = [item.item_id]
        step: ContentItem | None = item
        while step is not None and step.detail_id:
            if step.detail_id in seen:
                circle = " -> ".join([*seen[seen.index(step.detail_id) :], step.detail_id])
                problems.append(f"{where}: detail = {item.detail_id!r}: details lead in a circle ({circle})")
                break
            seen.append(step.detail_id)
            step = by_id.get(step.detail_id)
    return problems


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" (a relative path is read from the folder you run in: {Path.cwd()})"
        hint = "; set [content] pool in a config file (--config), or run where content/ is"
        raise PoolError(path, [f"manifest file not found{where}{hint}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PoolError(path, [f"cannot read the manifest: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PoolError(path, [f"not valid TOML: {exc}"]) from None


def load_pool(path: Path, *, check_files: bool = True) -> ContentPool:
    """Load and validate a content pool manifest; file paths are resolved relative to its directory.

    With `check_files=False` a missing media file is not a problem of the manifest: the hot-reload watcher
    (signage.content_watch) quarantines that one item instead of rejecting the whole pool."""
    path = Path(path)
    data = _read_manifest(path)
    base_dir = path.parent.resolve()
    problems = [
        f"{key}: unknown top-level key (items are [[item]] tables)" for key in data if key not in _KNOWN_TOP_LEVEL
    ]
    raw_items = data.get("item", [])
    if not isinstance(raw_items, list):
        raise PoolError(path, [*problems, "item: expected [[item]] tables"])
    if not raw_items:
        problems.append("no items: add at least one [[item]] table")

    items: list[ContentItem] = []
    item_rules: dict[str, ScopeRulesConfig] = {}
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        where = _describe(index, raw)
        try:
            model = _ItemModel.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_validation_problems(where, exc))
            continue
        if model.id in first_index:
            problems.append(f"{where}: id: duplicate of item {first_index[model.id]}")
            continue
        first_index[model.id] = index
        resolved = ""
        if model.file is not None:
            file_path = (base_dir / model.file).resolve()
            if check_files and not file_path.is_file():
                problems.append(f"{where}: file = {model.file!r}: not found (looked in {base_dir})")
                continue
            resolved = str(file_path)
        items.append(
            ContentItem(
                item_id=model.id,
                path=resolved,
                kind=ContentKind(model.kind),
                duration_s=float(model.duration_s),
                advertiser=model.advertiser,
                category=model.category,
                tags=tuple(model.tags),
                motion=model.motion,
                restricted=model.restricted,
                title=model.title,
                detail_id=model.detail,
            )
        )
        rules = model.rules()
        if rules is not None:
            item_rules[model.id] = rules
    problems.extend(detail_problems(items, first_index, raw_items))
    problems.extend(rule_problems(items, item_rules, first_index, raw_items))
    if problems:
        raise PoolError(path, problems)
    return ContentPool(base_dir=base_dir, items=tuple(items), item_rules=item_rules)


def rule_problems(
    items: list[ContentItem],
    item_rules: Mapping[str, ScopeRulesConfig],
    first_index: Mapping[str, int],
    raw_items: list[Any],
) -> list[str]:
    """Detail pages are shown on request, so the rules never schedule or pace them; the guaranteed shares of all
    items together must fit on one screen."""
    problems: list[str] = []
    pages = {item.detail_id for item in items if item.detail_id}
    for item_id in item_rules:
        if item_id in pages:
            where = _describe(first_index[item_id], raw_items[first_index[item_id]])
            problems.append(
                f"{where}: schedule/share keys on a detail page: detail pages open when a viewer reads their item, "
                "not by the rules (set them on the item that leads here)"
            )
    total_min = sum(rule.min_share or 0.0 for rule in item_rules.values())
    if total_min > 1.0 + 1e-9:
        named = ", ".join(f"{i} {r.min_share:g}" for i, r in item_rules.items() if r.min_share)
        problems.append(f"share_min: the items' guaranteed shares add up to {total_min:g} ({named}), more than 1")
    return problems
