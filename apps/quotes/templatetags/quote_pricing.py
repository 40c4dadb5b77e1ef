"""``{% load quote_pricing %}``: a discount or margin fraction written as a percentage for the seller."""

from __future__ import annotations

from decimal import Decimal

from django import template

from apps.quotes.pricing import percent_text

register = template.Library()


@register.filter
def percent(fraction: Decimal | None) -> str:
    """``Decimal("0.2249")`` → "22.5%"; None (no cost, so no margin) → "—"."""
    return "—" if fraction is None else percent_text(fraction)
