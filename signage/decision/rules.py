"""Operator rules as a filter on the eligible set (the full rule set arrives with the decision engine)."""

from __future__ import annotations

from collections.abc import Sequence

from signage.types import ContentItem, Context


def eligible_items(items: Sequence[ContentItem], context: Context) -> tuple[ContentItem, ...]:
    """Items allowed now. Restricted items never play when a minor may be present, an age is uncertain, or the
    camera is out (then nobody's age is known)."""
    unsafe = context.minor_possible or not context.camera_ok
    return tuple(item for item in items if not (item.restricted and unsafe))
