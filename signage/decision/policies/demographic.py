"""A static rule table from demographics: the baseline an operator would build by hand, and the known failure.

The table maps the age band most present (and the gender most present) to keywords; an item scores one point per
keyword found in its category or tags. The best-scoring eligible items take turns (so a tie is a small playlist);
when nobody is in view, or no band is known, every eligible item takes its turn. Choices are deterministic given
the previous ones, so the propensity is 1. It never learns: that is what it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from signage.types import AgeBand, ContentItem, Context, Decision, Gender

DEFAULT_TABLE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        AgeBand.CHILD.value: ("toys", "kids", "candy", "cartoon", "fun"),
        AgeBand.TEEN.value: ("electronics", "tech", "gaming", "sports", "fashion", "app"),
        AgeBand.YOUNG_ADULT.value: ("beauty", "fashion", "sports", "running", "tech", "electronics", "app"),
        AgeBand.ADULT.value: ("food", "coffee", "finance", "home", "premium", "family"),
        AgeBand.SENIOR.value: ("health", "food", "bakery", "bread", "store", "info"),
        Gender.FEMALE.value: ("beauty", "care", "fashion"),
        Gender.MALE.value: ("electronics", "sports", "tech"),
    }
)


class DemographicPolicy:
    """Picks by a fixed table of keywords per age band and gender; propensity 1."""

    name = "demographic"
    version = "1"

    def __init__(self, *, table: Mapping[str, Sequence[str]] = DEFAULT_TABLE) -> None:
        self._table = {key: tuple(words) for key, words in table.items()}
        self._turn = 0

    def _dominant(self, context: Context, prefix: str, options: Sequence[str]) -> str | None:
        shares = {option: context.features.get(f"{prefix}_{option}", 0.0) for option in options}
        best = max(shares, key=lambda option: shares[option])
        return best if shares[best] > 0 else None

    def _score(self, item: ContentItem, keywords: Sequence[str]) -> int:
        words = {item.category.lower(), *(tag.lower() for tag in item.tags)}
        return sum(1 for keyword in keywords if keyword in words)

    def select(self, context: Context, eligible: Sequence[ContentItem]) -> Decision:
        if not eligible:
            raise ValueError("select() needs at least one eligible item")
        age = self._dominant(context, "age", [b.value for b in AgeBand if b is not AgeBand.UNKNOWN])
        gender = self._dominant(context, "gender", [g.value for g in Gender if g is not Gender.UNKNOWN])
        keywords = self._table.get(age, ()) if age else ()
        keywords = (*keywords, *(self._table.get(gender, ()) if gender else ()))
        scores = [self._score(item, keywords) for item in eligible]
        best = max(scores)
        candidates = [item for item, score in zip(eligible, scores, strict=True) if score == best]
        chosen = candidates[self._turn % len(candidates)]
        self._turn += 1
        if best == 0:
            reason = "no table match: next eligible item"
        else:
            reason = f"table: {age or '-'} / {gender or '-'} ({best} keyword(s))"
        return Decision(item_id=chosen.item_id, propensity=1.0, reason=reason)

    def learn(self, context: Context, item_id: str, reward: float) -> None:
        """A static table does not learn."""
