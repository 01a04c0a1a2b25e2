"""Decisions: context from the audience, eligible items from the rules, a choice from the policy."""

from signage.decision.context import build_context
from signage.decision.decider import Choice, Decider
from signage.decision.policy import Policy, RoundRobinPolicy
from signage.decision.rules import eligible_items

__all__ = ["Choice", "Decider", "Policy", "RoundRobinPolicy", "build_context", "eligible_items"]
