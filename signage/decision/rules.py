"""Operator rules as a filter on the eligible set.

`apply_rules` is a pure function of the pool, the compiled rules, the context (its `t_utc` is the only time it
uses), the delivery history and the items the present viewers already watched: no clock is read here. Each item
that is filtered out gets one short reason (the first rule that refused it), in this order:

1. the screen kill switch (only the fallback plays), 2. a kill switch on the item, its advertiser or category,
3. blocked categories, 4. restricted content when a minor may be present, an age is uncertain or the camera is out,
5. schedules and dayparts, 6. caps per rolling hour and per local day, 7. max shares,
8. no repeat for a present viewer who already watched the item,
then 9. pacing: while a scope is behind its guaranteed min share, only behind scopes' items stay eligible.

Caps and shares are read through a `DeliveryView`: for the Decider, one arm's view of the delivery history
(`signage.decision.history.ArmView`), so the control arm is capped and paced on its own slots, apart from the
learner, while rules 1-5 and 8 are the same for every arm.

Per-item rules come from two places: `[rules.items.<id>]` in the config, and an item's own `schedule`,
`start_date`, `end_date`, `share_min` and `share_max` in the content pool. For one item, each key the pool sets
replaces the config's (a pool `schedule` replaces the config's `windows` and `dayparts` of that item); caps and kill
switches stay in the config; advertiser and category rules apply on top of both.

The fallback item (chosen by the Decider when nothing is left) is exempt from 5-9; `RuleSet.compile` refuses a
fallback that is restricted, blocked or killed, so the fallback can never break 2-4.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Protocol

from pydantic import ValidationError

from signage.config.rules import RulesConfig, ScopeRulesConfig
from signage.decision.pacing import behind_min_share, effective_margin, over_max_share
from signage.decision.schedule import Schedule, Window
from signage.types import ContentItem, Context


class RulesError(ValueError):
    """Rules that do not fit the content pool (an unknown item, advertiser or category; an unsafe fallback)."""


@dataclass(frozen=True)
class ScopeRule:
    """The compiled rules of one scope: an item, an advertiser or a category, and the pool items it covers."""

    name: str  # e.g. "item coffee", "advertiser Market Hall": shown in exclusion reasons
    item_ids: frozenset[str]
    killed: bool = False
    schedule: Schedule | None = None
    max_plays_per_hour: int | None = None
    max_plays_per_day: int | None = None
    min_share: float | None = None
    max_share: float | None = None


@dataclass(frozen=True)
class RuleSet:
    timezone: str
    screen_killed: bool = False
    blocked_categories: frozenset[str] = frozenset()
    restricted_categories: frozenset[str] = frozenset()
    scopes: tuple[ScopeRule, ...] = ()
    no_repeat: bool = True
    no_repeat_window: timedelta = timedelta(minutes=30)
    no_repeat_min_attention_s: float = 1.0
    share_margin: float = 0.02
    pacing_warmup_s: float = 600.0
    control_share: float = 0.0
    exploration_floor: float = 0.0
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)
    _by_item: Mapping[str, tuple[ScopeRule, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zoneinfo.ZoneInfo(self.timezone))
        by_item: dict[str, list[ScopeRule]] = {}
        for scope in self.scopes:
            for item_id in scope.item_ids:
                by_item.setdefault(item_id, []).append(scope)
        object.__setattr__(self, "_by_item", MappingProxyType({k: tuple(v) for k, v in by_item.items()}))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return self._zone

    def scopes_of(self, item_id: str) -> tuple[ScopeRule, ...]:
        return self._by_item.get(item_id, ())

    def is_restricted(self, item: ContentItem) -> bool:
        return item.restricted or item.category in self.restricted_categories

    @classmethod
    def compile(
        cls,
        config: RulesConfig,
        items: Sequence[ContentItem],
        *,
        timezone: str,
        fallback_item: str | None = None,
        item_rules: Mapping[str, ScopeRulesConfig] | None = None,
        detail_items: Sequence[ContentItem] = (),
    ) -> RuleSet:
        """Resolve the config's keys against the pool; every key that matches nothing is reported at once.

        `item_rules` are the pool's own per-item rules (`ContentPool.item_rules`), merged over the config's
        `[rules.items]` key by key; those of items not in the pool (quarantined) are ignored. `detail_items`: the
        detail pages outside the rotation (`ContentPool.detail_items`): rules may name them, and scopes cover them,
        so `detail_refusal` applies kill switches, blocked categories and schedules to a page a reader opens."""
        rotation = items
        rotation_ids = {item.item_id for item in rotation}
        items = (*rotation, *(page for page in detail_items if page.item_id not in rotation_ids))
        dayparts = {
            name: tuple(Window.from_config(w) for w in windows) for name, windows in (config.dayparts or {}).items()
        }
        scopes: list[ScopeRule] = []
        problems: list[str] = []
        per_item = _merge_item_rules(config.items, item_rules, {item.item_id for item in items}, problems)
        groups: tuple[tuple[str, str, dict[str, ScopeRulesConfig] | None, Callable[[ContentItem], str]], ...] = (
            ("items", "item", per_item, _item_id),
            ("advertisers", "advertiser", config.advertisers, _advertiser),
            ("categories", "category", config.categories, _category),
        )
        for section, label, table, key_of in groups:
            for key, scope in (table or {}).items():
                ids = frozenset(item.item_id for item in items if key_of(item) == key)
                if not ids:
                    known = sorted({key_of(item) for item in items})
                    problems.append(f"rules.{section}.{key!r}: no {label} of that name in the content pool ({known})")
                    continue
                scopes.append(_compile_scope(f"{label} {key}", ids, scope, dayparts))
        item_min = sum(scope.min_share or 0.0 for scope in (per_item or {}).values())
        if item_min > 1.0 + 1e-9:
            problems.append(
                f"items: min shares of the pool and [rules.items] add up to {item_min:g}, more than the whole screen"
            )
        rules = cls(
            timezone=timezone,
            screen_killed=config.screen_killed,
            blocked_categories=frozenset(config.blocked_categories),
            restricted_categories=frozenset(config.restricted_categories),
            scopes=tuple(scopes),
            no_repeat=config.no_repeat,
            no_repeat_window=timedelta(minutes=config.no_repeat_window_min),
            no_repeat_min_attention_s=config.no_repeat_min_attention_s,
            share_margin=config.share_margin,
            pacing_warmup_s=config.pacing_warmup_s,
            control_share=config.control_share,
            exploration_floor=config.exploration_floor,
        )
        if fallback_item is not None:
            fallback = next((item for item in rotation if item.item_id == fallback_item), None)
            if fallback is None:
                problems.append(f"decision.fallback_item {fallback_item!r} is not in the content pool")
            elif rules.is_restricted(fallback):
                problems.append(f"decision.fallback_item {fallback_item!r} is restricted: it must be safe for anyone")
            elif fallback.category in rules.blocked_categories:
                problems.append(f"decision.fallback_item {fallback_item!r} is in a blocked category")
            elif any(scope.killed for scope in rules.scopes_of(fallback_item)):
                problems.append(f"decision.fallback_item {fallback_item!r} is killed by the rules")
        if problems:
            raise RulesError("; ".join(problems))
        return rules


def _merge_item_rules(
    config_items: Mapping[str, ScopeRulesConfig] | None,
    pool_items: Mapping[str, ScopeRulesConfig] | None,
    known_ids: set[str],
    problems: list[str],
) -> dict[str, ScopeRulesConfig] | None:
    """The config's per-item rules with the pool's keys written over them (the pool wins, key by key)."""
    merged = dict(config_items or {})
    for item_id, pool_rule in (pool_items or {}).items():
        if item_id not in known_ids:
            continue
        update = {key: getattr(pool_rule, key) for key in pool_rule.model_fields_set}
        if "windows" in update:
            update["dayparts"] = []  # the pool's schedule is the item's whole schedule
        base = merged.get(item_id)
        try:
            merged[item_id] = ScopeRulesConfig.model_validate((base.model_dump() if base else {}) | update)
        except ValidationError as exc:
            reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors(include_url=False))
            problems.append(f"item {item_id!r}: the pool's rules do not fit [rules.items.{item_id}]: {reason}")
    return merged or None


def _item_id(item: ContentItem) -> str:
    return item.item_id


def _advertiser(item: ContentItem) -> str:
    return item.advertiser


def _category(item: ContentItem) -> str:
    return item.category


def _compile_scope(
    name: str, ids: frozenset[str], config: ScopeRulesConfig, dayparts: Mapping[str, tuple[Window, ...]]
) -> ScopeRule:
    windows = [w for part in config.dayparts for w in dayparts[part]] + [Window.from_config(w) for w in config.windows]
    return ScopeRule(
        name=name,
        item_ids=ids,
        killed=config.killed,
        schedule=Schedule.build(start_date=config.start_date, end_date=config.end_date, windows=windows),
        max_plays_per_hour=config.max_plays_per_hour,
        max_plays_per_day=config.max_plays_per_day,
        min_share=config.min_share,
        max_share=config.max_share,
    )


class DeliveryView(Protocol):
    """The read side of the delivery history that the rules consult: the whole screen's, or one arm's."""

    @property
    def part(self) -> float:
        """The part of every cap (and of the max-share warm-up) this view stands for: 1 for the whole screen."""
        ...

    def local_day(self, t_utc: datetime) -> date: ...

    def cap_reached(self, item_ids: frozenset[str], cap: int, t_utc: datetime, *, per_day: bool) -> bool: ...

    def seconds_on(self, item_ids: frozenset[str], day: date) -> float: ...

    def total_seconds_on(self, day: date) -> float: ...


@dataclass(frozen=True)
class Eligibility:
    """The items allowed now, why each other item is not, and the scopes whose min share narrowed the set."""

    eligible: tuple[ContentItem, ...]
    excluded: Mapping[str, str]
    paced_for: tuple[str, ...] = ()
    screen_killed: bool = False

    def summary(self) -> str:
        """A short line for the decision's reason, e.g. '3 excluded: schedule 2, cap 1'."""
        if not self.excluded:
            return ""
        kinds = Counter(reason.split(" ", 1)[0].rstrip(":") for reason in self.excluded.values())
        return f"{len(self.excluded)} excluded: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))


def _safety_refusal(item: ContentItem, rules: RuleSet, context: Context, local: datetime) -> str | None:
    """Rules 2-5: kill switches, blocked categories, restricted content, schedules (the first that refuses)."""
    scopes = rules.scopes_of(item.item_id)
    for scope in scopes:
        if scope.killed:
            return f"killed ({scope.name})"
    if item.category in rules.blocked_categories:
        return f"blocked category {item.category}"
    if rules.is_restricted(item) and not context.camera_ok:
        return "restricted: camera out, ages unknown"
    if rules.is_restricted(item) and context.minor_possible:
        return "restricted: a minor may be present or an age is uncertain"
    for scope in scopes:
        if scope.schedule is not None and not scope.schedule.allows(local):
            return f"schedule: outside the hours of {scope.name}"
    return None


def detail_refusal(item: ContentItem, rules: RuleSet, context: Context) -> str | None:
    """Why a detail page may not open for a reader now (None: it may): the screen kill switch and rules 2-5. Caps,
    shares and no repeat do not apply: the page is shown on a viewer's request, never pushed by the rotation."""
    if rules.screen_killed:
        return "killed (screen)"
    return _safety_refusal(item, rules, context, context.t_utc.astimezone(rules.zone))


def _first_refusal(
    item: ContentItem, rules: RuleSet, context: Context, local: datetime, history: DeliveryView, watched: frozenset[str]
) -> str | None:
    refusal = _safety_refusal(item, rules, context, local)
    if refusal is not None:
        return refusal
    scopes = rules.scopes_of(item.item_id)
    day = local.date()
    for scope in scopes:
        hourly, daily = scope.max_plays_per_hour, scope.max_plays_per_day
        if hourly is not None and history.cap_reached(scope.item_ids, hourly, context.t_utc, per_day=False):
            return f"cap: {hourly} plays per hour ({scope.name})"
        if daily is not None and history.cap_reached(scope.item_ids, daily, context.t_utc, per_day=True):
            return f"cap: {daily} plays per day ({scope.name})"
    total_s = history.total_seconds_on(day)
    for scope in scopes:
        if scope.max_share is not None:
            margin = effective_margin(rules.share_margin, scope.min_share, scope.max_share)
            if over_max_share(
                delivered_s=history.seconds_on(scope.item_ids, day),
                total_s=total_s,
                duration_s=item.duration_s,
                max_share=scope.max_share,
                margin=margin,
                warmup_s=rules.pacing_warmup_s * history.part,  # an arm's seconds grow at its part of the pace
            ):
                return f"share: at its max share of {scope.max_share:g} ({scope.name})"
    if item.item_id in watched:
        return "repeat: a viewer present already watched it"
    return None


def apply_rules(
    items: Sequence[ContentItem],
    rules: RuleSet,
    context: Context,
    history: DeliveryView,
    watched: frozenset[str] = frozenset(),
) -> Eligibility:
    """Filter `items` (pool order kept) by every rule; `watched` are the items a present viewer already watched."""
    if rules.screen_killed:
        return Eligibility((), MappingProxyType({i.item_id: "killed (screen)" for i in items}), screen_killed=True)
    local = context.t_utc.astimezone(rules.zone)
    excluded: dict[str, str] = {}
    eligible: list[ContentItem] = []
    for item in items:
        reason = _first_refusal(item, rules, context, local, history, watched if rules.no_repeat else frozenset())
        if reason is None:
            eligible.append(item)
        else:
            excluded[item.item_id] = reason
    paced_for: list[str] = []
    if eligible:
        day = local.date()
        total_s = history.total_seconds_on(day)
        behind: set[str] = set()
        for scope in rules.scopes:
            if scope.min_share is None:
                continue
            margin = effective_margin(rules.share_margin, scope.min_share, scope.max_share)
            delivered = history.seconds_on(scope.item_ids, day)
            if behind_min_share(delivered_s=delivered, total_s=total_s, min_share=scope.min_share, margin=margin):
                reachable = scope.item_ids & {item.item_id for item in eligible}
                if reachable:
                    behind |= reachable
                    paced_for.append(scope.name)
        if behind:
            for item in eligible:
                if item.item_id not in behind:
                    excluded[item.item_id] = f"pacing: {', '.join(paced_for)} behind min share"
            eligible = [item for item in eligible if item.item_id in behind]
    return Eligibility(tuple(eligible), MappingProxyType(excluded), tuple(paced_for))


def eligible_items(items: Sequence[ContentItem], context: Context) -> tuple[ContentItem, ...]:
    """Items allowed now by the built-in safety rule alone (no operator rules): restricted items never play when a
    minor may be present, an age is uncertain, or the camera is out (then nobody's age is known)."""
    unsafe = context.minor_possible or not context.camera_ok
    return tuple(item for item in items if not (item.restricted and unsafe))
