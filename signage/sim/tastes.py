"""Hidden tastes: how much each simulated shopper likes each content item.

An item is described by features derived from its manifest entry: a bias (always 1), its category (one-hot), its
tags (each 1/len(tags), so a long tag list does not outweigh the category) and whether it moves. A shopper's taste
is one weight per feature: a mean that depends on age band and gender (kids like toys, adults coffee, seniors
finance less), plus individual noise, plus a few personal likes: `likes` category or tag features, drawn with
probabilities softmax(demographic mean) (so they lean towards what the shopper's age band and gender like, but
demographics explain only part of them), each raised by `like_boost`. Relevance of an item to a shopper is
sigmoid(taste · features), in [0, 1]: low for most items, high for the few a shopper personally likes.

Means come from keyword rules matched against the category and tag text, so any content pool gets plausible tastes
without configuration. Features first seen on an item that was not in the pool at construction get the
demographic mean only (no individual noise), which keeps relevance a pure function of shopper and item.

How much demographics say is a parameter: `demographic_scale` multiplies every keyword and motion mean (1: as
the rules state; 0.3: age band and gender say little, and personal likes, drawn with the scaled means, spread over
more categories), and `bias` sets how irrelevant an item without a like or a demographic lean is (lower: fewer
items matter to each shopper). `from_config` reads both, with the likes, from `[sim]`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from signage.config.sim import SimConfig
from signage.types import AgeBand, ContentItem, Gender

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

BIAS_FEATURE = "bias"
MOTION_FEATURE = "motion"
BIAS_MEAN = -1.5  # most items mean little to most people; likes and demographics lift a few
BIAS_SD = 0.5
FEATURE_SD = 0.8

_AGES = (AgeBand.CHILD, AgeBand.TEEN, AgeBand.YOUNG_ADULT, AgeBand.ADULT, AgeBand.SENIOR)


@dataclass(frozen=True)
class TasteRule:
    """Mean taste added to every category or tag feature whose text contains one of the keywords."""

    keywords: tuple[str, ...]
    by_age: Mapping[AgeBand, float]
    female: float = 0.0
    male: float = 0.0

    def mean(self, age: AgeBand, gender: Gender) -> float:
        extra = self.female if gender is Gender.FEMALE else self.male if gender is Gender.MALE else 0.0
        return self.by_age.get(age, 0.0) + extra


def _rule(
    keywords: tuple[str, ...], ages: tuple[float, float, float, float, float], *, female: float = 0.0, male: float = 0.0
) -> TasteRule:
    return TasteRule(keywords, dict(zip(_AGES, ages, strict=True)), female, male)


#                      child teen  young adult senior
RULES: tuple[TasteRule, ...] = (
    _rule(("toy", "kid", "child", "lego", "candy", "sweet", "cartoon"), (2.5, 0.6, -0.4, 0.0, -0.3)),
    _rule(("coffee", "espresso", "tea", "cafe", "café"), (-1.5, 0.0, 1.2, 1.6, 1.0)),
    _rule(("financ", "bank", "credit", "loan", "insurance", "invest", "mortgage"), (-2.0, -1.5, 0.0, 0.6, -1.0)),
    _rule(("alcohol", "beer", "wine", "spirits", "liquor"), (-2.5, -1.5, 1.0, 0.6, 0.0), male=0.3),
    _rule(
        ("fashion", "beauty", "cosmetic", "clothing", "apparel", "shoe"),
        (-0.5, 1.0, 1.2, 0.3, -0.3),
        female=0.6,
        male=-0.3,
    ),
    _rule(("tech", "electronic", "phone", "gaming", "gadget", "computer"), (0.8, 1.5, 1.0, 0.2, -0.8), male=0.4),
    _rule(("sport", "fitness", "outdoor", "running", "gym"), (0.3, 0.8, 1.0, 0.3, -0.4), male=0.3),
    _rule(
        ("food", "grocer", "bakery", "snack", "fruit", "pizza", "burger", "ice cream", "lunch", "deli"),
        (1.0, 0.8, 0.6, 0.5, 0.4),
    ),
    _rule(("health", "pharma", "vitamin", "medic", "wellness"), (-0.8, -0.5, 0.0, 0.5, 1.4)),
    _rule(("home", "garden", "furniture", "kitchen", "diy"), (-0.8, -0.5, 0.2, 0.8, 0.8)),
    _rule(("travel", "holiday", "vacation", "flight"), (0.0, 0.2, 0.8, 0.8, 0.6)),
)
MOTION_MEANS: Mapping[AgeBand, float] = dict(zip(_AGES, (0.6, 0.3, 0.1, 0.0, -0.2), strict=True))


def item_features(item: ContentItem) -> dict[str, float]:
    """The feature values of one item: bias, category one-hot, tags sharing a weight of 1, motion."""
    values = {BIAS_FEATURE: 1.0, f"category:{item.category.strip().lower()}": 1.0}
    tags = [tag.strip().lower() for tag in item.tags]
    for tag in tags:
        key = f"tag:{tag}"
        values[key] = values.get(key, 0.0) + 1.0 / len(tags)
    if item.motion:
        values[MOTION_FEATURE] = 1.0
    return values


def mean_taste(feature: str, age: AgeBand, gender: Gender) -> float:
    """The population mean of one taste weight for people of this age band and gender."""
    if feature == BIAS_FEATURE:
        return BIAS_MEAN
    if feature == MOTION_FEATURE:
        return MOTION_MEANS.get(age, 0.0)
    text = feature.split(":", 1)[-1]
    return sum(rule.mean(age, gender) for rule in RULES if any(k in text for k in rule.keywords))


def sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


class TasteModel:
    """The feature space of a content pool and the draw of one shopper's tastes over it."""

    def __init__(
        self,
        items: Sequence[ContentItem],
        *,
        likes: int = 0,
        like_boost: float = 0.0,
        demographic_scale: float = 1.0,
        bias: float = BIAS_MEAN,
    ) -> None:
        if likes < 0:
            raise ValueError(f"likes must be >= 0, got {likes}")
        if demographic_scale < 0:
            raise ValueError(f"demographic_scale must be >= 0, got {demographic_scale}")
        self.likes = likes
        self.like_boost = like_boost
        self.demographic_scale = demographic_scale
        self.bias = bias
        names = {BIAS_FEATURE, MOTION_FEATURE}
        for item in items:
            names.update(item_features(item))
        self.features: tuple[str, ...] = tuple(sorted(names))
        self._index = {name: i for i, name in enumerate(self.features)}
        self._sd = np.array([BIAS_SD if n == BIAS_FEATURE else FEATURE_SD for n in self.features])
        self._means: dict[tuple[AgeBand, Gender], Vector] = {}
        self._likeable = np.array([i for i, n in enumerate(self.features) if n not in (BIAS_FEATURE, MOTION_FEATURE)])

    @classmethod
    def from_config(cls, items: Sequence[ContentItem], config: SimConfig) -> TasteModel:
        """The taste model `[sim]` describes for this pool."""
        return cls(
            items,
            likes=config.taste_likes,
            like_boost=config.taste_like_boost,
            demographic_scale=config.taste_demographic_scale,
            bias=config.taste_bias,
        )

    def means(self, age: AgeBand, gender: Gender) -> Vector:
        key = (age, gender)
        cached = self._means.get(key)
        if cached is None:
            cached = np.array([self.mean(name, age, gender) for name in self.features])
            cached.setflags(write=False)
            self._means[key] = cached
        return cached

    def mean(self, feature: str, age: AgeBand, gender: Gender) -> float:
        """`mean_taste` with this model's bias and demographic scale."""
        if feature == BIAS_FEATURE:
            return self.bias
        return self.demographic_scale * mean_taste(feature, age, gender)

    def draw(self, rng: np.random.Generator, age: AgeBand, gender: Gender) -> Vector:
        means = self.means(age, gender)
        tastes: Vector = means + rng.standard_normal(len(self.features)) * self._sd
        count = min(self.likes, len(self._likeable))
        if count:
            lean = np.exp(means[self._likeable] - means[self._likeable].max())
            liked = rng.choice(self._likeable, size=count, replace=False, p=lean / lean.sum())
            tastes[liked] += self.like_boost
        tastes.setflags(write=False)
        return tastes

    def typical_relevance(self, draws: Matrix, drift: Vector, age: AgeBand, gender: Gender, item: ContentItem) -> float:
        """The mean relevance of an item over `draws` (one drawn shopper of this age band and gender per row) with
        the population's `drift`: what a shopper's demographic says of their taste, without their own."""
        total = np.zeros(len(draws))
        for name, value in item_features(item).items():
            i = self._index.get(name)
            total += value * ((draws[:, i] + drift[i]) if i is not None else self.mean(name, age, gender))
        return float(np.mean(1.0 / (1.0 + np.exp(-total))))

    def relevance(self, tastes: Vector, age: AgeBand, gender: Gender, item: ContentItem) -> float:
        """sigmoid(taste · features); features unknown to the pool use the demographic mean."""
        total = 0.0
        for name, value in item_features(item).items():
            i = self._index.get(name)
            weight = float(tastes[i]) if i is not None else self.mean(name, age, gender)
            total += weight * value
        return sigmoid(total)
