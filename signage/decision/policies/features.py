"""Numbers a learning policy can use: a context vector and one vector per item, both over growing vocabularies.

Context side (`context_features`): a bias, the age / gender / mood shares and other numeric features that
`build_context` supplies (scaled to about [0, 1]: seconds / 30, group size / 4, crowd / 5), the share watching,
whether a returning viewer is present, the daypart (morning, lunch, afternoon, evening) and the weekend.

Item side (`item_features`): a bias, the item's own id (so an item can learn what its features do not say), its
category, its tags (sharing a weight of 1), its advertiser and whether it moves. A new item starts with what its
category, tags, advertiser and motion have learned on other items: that is the cold start.

Item-specific context: a context feature named `item:<item_id>:<name>` (for example the share of returning viewers
present who already watched that item) is given to that item only, as the item feature `ctx:<name>`, so one weight
per name is learned for all items (novelty wearing off is one weight, not one per item).

Vocabularies grow as names are first seen and never shrink, so a model over them stays valid as the pool changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from signage.decision.context import DEMOGRAPHIC_PREFIXES, ITEM_CONTEXT_PREFIX, VIEWER_PREFIX
from signage.types import ContentItem, Context

_SCALES = {"group_max": 4.0, "n_present": 5.0}
# In the context (logged, for analysts and other policies) but not learned from: measured on the virtual store
# (2026-12-03, docs/learner.md), direction shares and band confidences left the learner level on % of the oracle and
# slowed its first 70% on some seeds.
NOT_LEARNED_PREFIXES = ("direction_", "confidence_")
_CLIP = 3.0


def _scaled(name: str, value: float) -> float:
    value = value / 30.0 if name.endswith("_s") else value / _SCALES.get(name, 1.0)
    return -_CLIP if value < -_CLIP else _CLIP if value > _CLIP else value


def daypart(local_hour: int) -> str:
    if local_hour < 11:
        return "morning"
    if local_hour < 14:
        return "lunch"
    if local_hour < 17:
        return "afternoon"
    return "evening"


def context_features(context: Context) -> dict[str, float]:
    """The shared (not item-specific) features of a context, by name."""
    values: dict[str, float] = {
        "bias": 1.0,
        f"daypart:{daypart(context.local_hour)}": 1.0,
        "crowd": min(context.n_present, 5) / 5.0,
    }
    if context.weekday >= 5:
        values["weekend"] = 1.0
    if context.n_present:
        values["watching_share"] = context.n_watching / context.n_present
    else:
        values["nobody"] = 1.0
    if context.returning_present:
        values["returning"] = 1.0
    # A reward's own viewer (`for_viewer`): their bands replace the group's shares of the same names.
    own = {name[len(VIEWER_PREFIX) :]: v for name, v in context.features.items() if name.startswith(VIEWER_PREFIX)}
    skipped = (ITEM_CONTEXT_PREFIX, VIEWER_PREFIX, *DEMOGRAPHIC_PREFIXES) if own else (ITEM_CONTEXT_PREFIX,)
    skipped = (*skipped, *NOT_LEARNED_PREFIXES)
    for name, value in context.features.items():
        if value and not name.startswith(skipped):
            values[name] = _scaled(name, float(value))
    values.update(own)
    return values


def item_context_features(context: Context, item_id: str) -> dict[str, float]:
    """The context features given for one item only, as `ctx:<name>`."""
    prefix = f"{ITEM_CONTEXT_PREFIX}{item_id}:"
    return {
        f"ctx:{name[len(prefix) :]}": _scaled(name, float(value))
        for name, value in context.features.items()
        if name.startswith(prefix)
    }


def item_context_table(context: Context) -> dict[str, dict[str, float]]:
    """`item_context_features` of every item named in the context at once (one pass over the features)."""
    table: dict[str, dict[str, float]] = {}
    for name, value in context.features.items():
        if name.startswith(ITEM_CONTEXT_PREFIX):
            item_id, _, feature = name[len(ITEM_CONTEXT_PREFIX) :].rpartition(":")
            if item_id:
                table.setdefault(item_id, {})[f"ctx:{feature}"] = _scaled(name, float(value))
    return table


def item_features(item: ContentItem) -> dict[str, float]:
    """The fixed features of an item, by name."""
    values = {
        "bias": 1.0,
        f"id:{item.item_id}": 1.0,
        f"category:{item.category.strip().lower()}": 1.0,
        f"advertiser:{item.advertiser.strip().lower()}": 1.0,
    }
    if item.motion:
        values["motion"] = 1.0
    tags = [tag.strip().lower() for tag in item.tags]
    for tag in tags:
        values[f"tag:{tag}"] = values.get(f"tag:{tag}", 0.0) + 1.0 / len(tags)
    return values


def cached_item_features(
    cache: dict[str, dict[str, float]], sources: dict[str, ContentItem], item: ContentItem
) -> tuple[dict[str, float], bool]:
    """`item_features(item)` kept in `cache` by id, made again when the item is not the one they were made from (its
    category, tags, advertiser or motion edited in the pool, or its id reused); True when they were (re)made."""
    fixed = cache.get(item.item_id)
    if fixed is not None and sources.get(item.item_id) == item:
        return fixed, False
    fixed = cache[item.item_id] = item_features(item)
    sources[item.item_id] = item
    return fixed, True


class Vocabulary:
    """Names to column indices, growing as new names appear; picklable (plain dict)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def add(self, names: Mapping[str, float]) -> bool:
        """Give new names an index; True when any was new."""
        grew = False
        for name in names:
            if name not in self.index:
                self.index[name] = len(self.index)
                grew = True
        return grew
