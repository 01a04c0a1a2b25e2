"""Turn the audience into the context the decision engine sees: numbers, never pixels."""

from __future__ import annotations

import zoneinfo
from collections import Counter

from signage.types import AgeBand, AudienceSnapshot, Context, Gender, Mood, Viewer


def build_context(snapshot: AudienceSnapshot, timezone: str) -> Context:
    """Counts and shares of who is present, plus the store-local hour and weekday."""
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


def viewer_key(viewer: Viewer) -> str:
    """The anonymous key under which the no-repeat rule remembers what a viewer watched.

    A returning person is only recognised across visits through re-identification; when the audience stage carries
    such a key on the viewer (`person_key`, RAM only, never logged) it is used, otherwise the per-visit viewer id
    (then no-repeat holds within one visit)."""
    person_key = getattr(viewer, "person_key", None)
    return person_key if isinstance(person_key, str) and person_key else viewer.viewer_id
