"""Turn the audience into the context the decision engine sees: numbers, never pixels.

Besides counts and shares of who is present (and which way they move, and how sure perception is of their bands),
the context says who is there *together* (group composition: a child with an adult, a mixed pair, the joint age ×
gender shares) and, per item, how many of the people present already watched it on an earlier visit
(`item:<id>:seen`, `item:<id>:seen_again`, from a `WearMemory` of anonymous re-identification keys, RAM only). The
no-repeat rule keeps an item away from a returning viewer for its window; novelty keeps wearing after that, and the
learner weighs these shares itself.

A reward belongs to one viewer, so the engine teaches it with `for_viewer`: the decision's context plus that viewer's
own bands (`viewer:*`) and, in place of the group's `item:*` shares, what that viewer alone had watched then.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from signage.types import AgeBand, Attributes, AudienceSnapshot, Context, Direction, Gender, Mood, Viewer

ITEM_CONTEXT_PREFIX = "item:"  # item-specific context features: `item:<item id>:<name>`
VIEWER_PREFIX = "viewer:"  # the bands of the one viewer whose reward a learner is given (see `for_viewer`)
DEMOGRAPHIC_PREFIXES = ("age_", "gender_", "mood_", "agegender_")  # the shares `for_viewer` has one-hot twins of

_ADULT_BANDS = frozenset({AgeBand.YOUNG_ADULT, AgeBand.ADULT, AgeBand.SENIOR})
_YOUNG_BANDS = frozenset({AgeBand.CHILD, AgeBand.TEEN})
_DIRECTION_NAMES = {  # crossing either way is one: which way someone walks past says nothing about the content
    Direction.APPROACHING: "approaching",
    Direction.STANDING: "standing",
    Direction.LEFT_TO_RIGHT: "crossing",
    Direction.RIGHT_TO_LEFT: "crossing",
    Direction.LEAVING: "leaving",
}


class WearMemory:
    """How often each anonymous viewer key watched each item, forgotten `ttl` after the last watch (RAM only).

    When the caller passes the exposure's attention, a watch of at least `held_s` also marks the item as one the
    viewer was held by (`item:<id>:held`): a returning viewer's own taste, which no demographic says."""

    def __init__(self, *, ttl: timedelta, max_viewers: int = 50_000, held_s: float = 3.0) -> None:
        self.ttl = ttl
        self.held_s = held_s
        self._max_viewers = max_viewers
        # key → item → (times, last, held); oldest key first
        self._watched: dict[str, dict[str, tuple[int, datetime, bool]]] = {}

    def watched(self, viewer_key: str, item_id: str, t_utc: datetime, *, attention_s: float | None = None) -> None:
        if self.ttl <= timedelta(0):
            return
        items = self._watched.pop(viewer_key, {})
        times, last, held = items.get(item_id, (0, t_utc, False))
        fresh = last > t_utc - self.ttl
        now_held = attention_s is not None and attention_s >= self.held_s
        items[item_id] = ((times if fresh else 0) + 1, t_utc, (held and fresh) or now_held)
        self._watched[viewer_key] = items  # re-inserted: most recent last
        while len(self._watched) > self._max_viewers:
            del self._watched[next(iter(self._watched))]

    def features(self, viewer_keys: Iterable[str], t_utc: datetime) -> dict[str, float]:
        """Per item watched by anyone present: the share of those present who watched it (`item:<id>:seen`), who
        watched it twice or more (`item:<id>:seen_again`) and who were held by it (`item:<id>:held`, only when
        attention was given), within the time to live."""
        keys = list(viewer_keys)
        if not keys or not self._watched:
            return {}
        since = t_utc - self.ttl
        seen: Counter[str] = Counter()
        again: Counter[str] = Counter()
        held: Counter[str] = Counter()
        for key in keys:
            for item_id, (times, last, was_held) in self._watched.get(key, {}).items():
                if last > since:
                    seen[item_id] += 1
                    again[item_id] += times >= 2
                    held[item_id] += was_held
        n = len(keys)
        features = {f"item:{item_id}:seen": count / n for item_id, count in seen.items()}
        features.update({f"item:{item_id}:seen_again": count / n for item_id, count in again.items() if count})
        features.update({f"item:{item_id}:held": count / n for item_id, count in held.items() if count})
        return features


def group_features(viewers: Iterable[Viewer]) -> dict[str, float]:
    """Who is present together: crossed with every item feature by the learner (a family with a child likes other
    things than the child's share alone says)."""
    people = list(viewers)
    n = len(people)
    if not n:
        return {}
    features: dict[str, float] = {}
    ages = {v.attributes.age_band for v in people}
    genders = {v.attributes.gender for v in people}
    if n == 1:
        features["solo"] = 1.0
    if ages & _YOUNG_BANDS and ages & _ADULT_BANDS:
        features["family"] = 1.0
    if Gender.FEMALE in genders and Gender.MALE in genders:
        features["mixed_gender"] = 1.0
    together = sum(1 for v in people if v.group_size >= 2)
    if together:
        features["together_share"] = together / n
    returning = sum(1 for v in people if v.returning)
    if returning:
        features["returning_share"] = returning / n
    joint = Counter(f"{v.attributes.age_band}_{v.attributes.gender}" for v in people)
    for name, count in joint.items():
        features[f"agegender_{name}"] = count / n
    return features


def movement_and_certainty(viewers: Sequence[Viewer]) -> dict[str, float]:
    """Which way the people present move (shares `direction_approaching`, `direction_standing`,
    `direction_crossing`, `direction_leaving`) and how sure perception is of their bands (mean confidences
    `confidence_age`, `confidence_gender`: a context of uncertain bands says less about taste)."""
    n = len(viewers)
    if not n:
        return {}
    moving = Counter(_DIRECTION_NAMES.get(v.direction, "") for v in viewers)
    features = {f"direction_{name}": count / n for name, count in moving.items() if name}
    features["confidence_age"] = sum(v.attributes.age_confidence for v in viewers) / n
    features["confidence_gender"] = sum(v.attributes.gender_confidence for v in viewers) / n
    return features


def build_context(snapshot: AudienceSnapshot, timezone: str, *, per_item: Mapping[str, float] | None = None) -> Context:
    """Counts and shares of who is present and who is together, plus the store-local hour and weekday.

    `per_item`: item-specific features (`item:<id>:<name>`, such as a `WearMemory`'s) added as they are."""
    local = snapshot.t_utc.astimezone(zoneinfo.ZoneInfo(timezone))
    viewers = snapshot.viewers
    n = len(viewers)
    features: dict[str, float] = {}
    if n:
        ages = Counter(v.attributes.age_band for v in viewers)
        genders = Counter(v.attributes.gender for v in viewers)
        moods = Counter(v.attributes.mood for v in viewers)
        for band in AgeBand:
            features[f"age_{band}"] = ages[band] / n
        for gender in Gender:
            features[f"gender_{gender}"] = genders[gender] / n
        for mood in Mood:
            features[f"mood_{mood}"] = moods[mood] / n
        features["group_max"] = float(max(v.group_size for v in viewers))
        features["dwell_mean_s"] = sum(v.dwell_s for v in viewers) / n
        features.update(movement_and_certainty(viewers))
        features.update(group_features(viewers))
    if per_item:
        features.update(per_item)
    return Context(
        t_utc=snapshot.t_utc,
        local_hour=local.hour,
        weekday=local.weekday(),
        n_present=n,
        n_watching=len(snapshot.watching),
        minor_possible=snapshot.minor_possible,
        returning_present=any(v.returning for v in viewers),
        camera_ok=snapshot.camera_ok,
        features=features,
    )


def own_bands(attributes: Attributes) -> dict[str, float]:
    """One viewer's bands under the names of the shares (`age_adult`, `gender_female`, `mood_happy`, the joint
    `agegender_adult_female`), each 1."""
    age, gender = attributes.age_band, attributes.gender
    return {
        f"age_{age}": 1.0,
        f"gender_{gender}": 1.0,
        f"mood_{attributes.mood}": 1.0,
        f"agegender_{age}_{gender}": 1.0,
    }


def for_viewer(context: Context, attributes: Attributes, memory: Mapping[str, float] | None = None) -> Context:
    """The decision's context as given with one viewer's reward: their own bands beside the group's shares, as
    `viewer:<share name>` features (`own_bands`). The reward is that viewer's alone, so a learner that credits it to
    the group's mix cannot tell whether the child or the parent of a family watched; one that reads these learns
    per band and, being linear in them, still scores a group by the mean over its members (the shares).

    `memory`: what this viewer had watched when the decision was made (`WearMemory.features` of their key alone;
    None when they were not there then): it replaces the group's `item:<id>:...` shares, so wear is learned on the
    viewer it wore on, not on their companions."""
    features = dict(context.features)
    if memory is not None:
        features = {name: v for name, v in features.items() if not name.startswith(ITEM_CONTEXT_PREFIX)} | dict(memory)
    features.update({f"{VIEWER_PREFIX}{name}": value for name, value in own_bands(attributes).items()})
    return dataclasses.replace(context, features=features)


def loggable(context: Context) -> dict[str, Any]:
    """The context as the decision log keeps it (`Context.to_json`) without the per-item memory of what the people
    present watched before (`item:<id>:...`): with one returning viewer present, those features are that person's
    viewing history from earlier visits, which must not outlive re-identification's RAM-only memory on disk. The
    learner still reads them in RAM; an off-policy replay sees the context without them."""
    data = context.to_json()
    data["features"] = {k: v for k, v in data["features"].items() if not k.startswith(ITEM_CONTEXT_PREFIX)}
    return data


def viewer_key(viewer: Viewer) -> str:
    """The anonymous key under which the no-repeat rule remembers what a viewer watched.

    A returning person is only recognised across visits through re-identification; when the audience stage carries
    such a key on the viewer (`person_key`, RAM only, never logged) it is used, otherwise the per-visit viewer id
    (then no-repeat holds within one visit)."""
    person_key = getattr(viewer, "person_key", None)
    return person_key if isinstance(person_key, str) and person_key else viewer.viewer_id
