"""[decision]: which policy picks the next item."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from signage.config.base import Section

RewardKind = Literal["attention_s", "held", "duration_weighted"]  # see signage.decision.reward


class DecisionConfig(Section):
    policy: Literal["round_robin", "random", "demographic", "contextual", "river_linear", "linucb"] = Field(
        default="contextual",
        description=(
            "The policy that picks the next item: round_robin (the plain playlist), random (uniform), demographic "
            "(a fixed table from the age band and gender present), contextual (the engine's online learner), "
            "river_linear (the same learner's shape on a river model; slower, kept for comparison), linucb (disjoint "
            "LinUCB over plain context features: the published anchor the learner is measured against)."
        ),
    )
    fallback_item: str | None = Field(
        default=None, description="Item shown when nothing is eligible; the first pool item if unset."
    )
    learner_learning_rate: float = Field(
        default=0.1,
        gt=0,
        le=1.5,
        description=(
            "Step of the contextual learner's normalised updates; a constant step also forgets old rewards, "
            "so tastes that drift and novelty that wears off are followed."
        ),
    )
    learner_temperature: float = Field(
        default=0.01,
        gt=0,
        le=10,
        description="Softmax temperature over predicted rewards (in units of learner_reward_scale_s); lower exploits.",
    )
    learner_empty_temperature: float = Field(
        default=0.01,
        gt=0,
        le=10,
        description=(
            "Softmax temperature of the contextual learner with nobody in front of the screen: higher rotates the "
            "pool while the aisle is empty, lower keeps to the item that draws arrivals best. Rotating has a price: "
            "arrivals first see what was chosen for the empty aisle (1.0 earned 8-19 points of the oracle less "
            "on the virtual store). Use guaranteed shares to give every advertiser plays."
        ),
    )
    learner_epsilon: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description=(
            "Share of the contextual learner's choices spread uniformly over the eligible items, on top of the "
            "control arm and the exploration floor, which explore for it too. With both of those at 0, use 0.05: "
            "a learner alone can lock onto a close second."
        ),
    )
    reward: RewardKind = Field(
        default="attention_s",
        description=(
            "What an exposure's reward is, for the learner and the logs: attention_s (the viewer's attention "
            "seconds), held (1 when attention reached [audience] hold_threshold_s, else 0) or duration_weighted "
            "(the share of the item's length watched, at most 1: long items do not win by being long)."
        ),
    )
    learner_reward_scale_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description=(
            "Attention seconds that count as a reward of 1 for the learner (rewards are capped at 5); with the "
            "other reward kinds, which lie between 0 and 1, a reward of 1 is 1."
        ),
    )
    learner_seed: int = Field(default=0, ge=0, description="Seed of the learner's exploration draws.")
    learner_wear_memory_h: float = Field(
        default=12.0,
        ge=0,
        le=48,
        description=(
            "How long the learner remembers which items each returning viewer (an anonymous re-identification key, "
            "RAM only, never stored) watched, so items they already saw count as worn (0: no memory). A key only "
            "comes back while re-identification remembers the face ([perception] reid_ttl_s)."
        ),
    )
    snapshot_path: str = Field(
        default="var/policy.snapshot",
        min_length=1,
        description="File the learned policy state is saved to (atomically) and restored from at start.",
    )
    snapshot_interval_min: float = Field(
        default=5.0, gt=0, le=1440, description="Minutes between snapshots of the learned state (also saved at exit)."
    )
