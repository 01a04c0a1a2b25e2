"""A long simulated run through a DST change: every rule is checked afterwards by code independent of the rules
module, and every kind of violation must count zero. Shares must hold on the whole screen and also on the control
arm's slots alone (the control arm is paced on its own delivery)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from test_rules import _Softmax, viewer

from signage.config.rules import RulesConfig
from signage.decision import Decider
from signage.types import AgeBand, AudienceSnapshot, ContentItem, ContentKind, Viewer

TZ = "Europe/Berlin"
ZONE = ZoneInfo(TZ)


def item(item_id: str, advertiser: str, category: str, duration_s: float, restricted: bool = False) -> ContentItem:
    return ContentItem(
        item_id, "", ContentKind.TEXT, duration_s, advertiser, category, restricted=restricted, title="x"
    )


POOL = (
    item("coffee", "Bean", "food", 8),
    item("bread", "Market", "food", 7),
    item("app", "Market", "store", 10),
    item("shoes", "Stride", "sports", 10),
    item("toys", "ToyBox", "toys", 9),
    item("wine", "Cellar", "alcohol", 12),
    item("card", "Bank", "finance", 10, restricted=True),
    item("phone", "Nova", "electronics", 10),
    item("news", "Paper", "politics", 10),
    item("old", "Gone", "misc", 10),
    item("hours", "Market", "store", 6),
)
RULES = RulesConfig.model_validate(
    {
        "blocked_categories": ["politics"],
        "control_share": 0.1,
        "exploration_floor": 0.05,
        "dayparts": {"breakfast": [{"start": "06:00", "end": "11:00"}], "late": [{"start": "20:00", "end": "02:30"}]},
        "items": {
            "coffee": {"dayparts": ["breakfast"], "max_plays_per_hour": 20},
            "phone": {"max_share": 0.06},  # the policy loves it
            "old": {"killed": True},
            "wine": {"dayparts": ["late"], "max_plays_per_day": 30},
        },
        "advertisers": {"ToyBox": {"min_share": 0.2}, "Stride": {"max_plays_per_hour": 30, "min_share": 0.05}},
    }
)
CAPS_PER_HOUR = {"coffee": ({"coffee"}, 20), "Stride": ({"shoes"}, 30)}
CAPS_PER_DAY = {"wine": ({"wine"}, 30)}
SHARES = {"phone": ({"phone"}, None, 0.06), "ToyBox": ({"toys"}, 0.2, None), "Stride": ({"shoes"}, 0.05, None)}


def in_window(local: datetime, start_h: float, end_h: float) -> bool:
    hour = local.hour + local.minute / 60 + local.second / 3600
    return start_h <= hour < end_h if start_h < end_h else hour >= start_h or hour < end_h


def test_two_days_through_dst_without_a_single_violation() -> None:
    rng = random.Random(42)
    policy = _Softmax(seed=1, weights={"phone": 3.0, "wine": 2.0, "card": 2.0, "coffee": 1.0})
    decider = Decider(policy, POOL, timezone=TZ, fallback_item="hours", rules=RULES, seed=2)
    t = datetime(2026, 3, 28, 0, 0, tzinfo=ZONE).astimezone(UTC)  # Saturday; Sunday springs forward
    end = datetime(2026, 3, 30, 0, 0, tzinfo=ZONE).astimezone(UTC)
    people = [f"p{k}" for k in range(300)]  # returning visitors come back under the same key
    present: list[Viewer] = []
    watched: dict[str, dict[str, datetime]] = defaultdict(dict)
    starts: list[tuple[datetime, str]] = []
    seconds: dict[tuple[object, str], float] = defaultdict(float)
    control_seconds: dict[tuple[object, str], float] = defaultdict(float)
    violations: dict[str, int] = defaultdict(int)
    camera_ok = True
    arms = defaultdict(int)
    while t < end:
        if rng.random() < 0.3:  # the audience changes between items
            bands = [AgeBand.ADULT] * 6 + [AgeBand.SENIOR, AgeBand.TEEN, AgeBand.CHILD, AgeBand.UNKNOWN]
            present = [viewer(rng.choice(people), rng.choice(bands)) for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))]
            present = list({v.viewer_id: v for v in present}.values())
        camera_ok = rng.random() > 0.03 if camera_ok else rng.random() > 0.3
        snapshot = AudienceSnapshot(t_mono=0.0, t_utc=t, viewers=tuple(present), camera_ok=camera_ok)
        choice = decider.decide(snapshot)
        chosen = next(i for i in POOL if i.item_id == choice.decision.item_id)
        arms[choice.arm] += 1
        local = t.astimezone(ZONE)
        minor = any(v.attributes.age_band in (AgeBand.CHILD, AgeBand.TEEN, AgeBand.UNKNOWN) for v in present)
        violations["restricted"] += chosen.item_id in ("wine", "card") and (minor or not camera_ok)
        violations["killed or blocked"] += chosen.item_id in ("old", "news")
        violations["schedule"] += chosen.item_id == "coffee" and not in_window(local, 6, 11)
        violations["schedule"] += chosen.item_id == "wine" and not in_window(local, 20, 2.5)
        if not choice.fallback:
            since = t - timedelta(minutes=30)
            seen = {i for v in present for i, when in watched[v.viewer_id].items() if when > since}
            violations["repeat"] += chosen.item_id in seen
        violations["propensity"] += not 0 < choice.decision.propensity <= 1 or chosen.item_id not in choice.eligible
        starts.append((t, chosen.item_id))
        ended = t + timedelta(seconds=chosen.duration_s)
        decider.played(chosen.item_id, t, ended)
        seconds[(local.date(), chosen.item_id)] += chosen.duration_s
        if choice.arm == "control":
            control_seconds[(local.date(), chosen.item_id)] += chosen.duration_s
        for v in present:
            if rng.random() < 0.5:
                decider.watched(v.viewer_id, chosen.item_id, attention_s=2.0, t_utc=ended)
                watched[v.viewer_id][chosen.item_id] = ended
        t = ended

    for item_ids, cap in CAPS_PER_HOUR.values():
        times = [s for s, i in starts if i in item_ids]
        violations["cap per hour"] += sum(
            1 for k in range(cap, len(times)) if times[k] - times[k - cap] < timedelta(hours=1)
        )
    for item_ids, cap in CAPS_PER_DAY.values():
        per_day: dict[object, int] = defaultdict(int)
        for s, i in starts:
            per_day[s.astimezone(ZONE).date()] += i in item_ids
        violations["cap per day"] += sum(n > cap for n in per_day.values())
    days = sorted({day for day, _ in seconds})
    assert len(days) == 2
    shares_seen = {}
    for day in days:
        for slots, table in (("screen", seconds), ("control", control_seconds)):
            total = sum(v for (d, _), v in table.items() if d == day)
            for name, (item_ids, low, high) in SHARES.items():
                share = sum(v for (d, i), v in table.items() if d == day and i in item_ids) / total
                shares_seen[(str(day), slots, name)] = round(share, 4)
                violations[f"share ({slots})"] += (low is not None and share < low) or (
                    high is not None and share > high
                )
    assert dict(violations) == {k: 0 for k in violations}, (dict(violations), shares_seen)
    assert sum(arms.values()) > 15_000 and abs(arms["control"] / sum(arms.values()) - 0.1) < 0.01
    # pacing lands near its aims (min + margin, max - margin), not just anywhere inside the bounds
    for day in days:
        for slots in ("screen", "control"):
            assert 0.20 <= shares_seen[(str(day), slots, "ToyBox")] <= 0.25, shares_seen
            assert 0.03 <= shares_seen[(str(day), slots, "phone")] <= 0.06, shares_seen
