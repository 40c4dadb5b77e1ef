from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def dictget(mapping: Mapping[Any, Any], key: Any) -> Any:
    """``{{ states|dictget:company.pk }}``: look a key up, trying it as given and as a string."""
    if key in mapping:
        return mapping[key]
    return mapping.get(str(key))


@register.simple_tag(takes_context=True)
def query_without_page(context: dict[str, Any]) -> str:
    """The current query string less ``page`` (and htmx's own markers), for page links that keep filters."""
    request = context.get("request")
    if request is None:
        return ""
    params = request.GET.copy()
    params.pop("page", None)
    return str(params.urlencode())


@register.filter
def qty(value: Any) -> str:
    """A quantity without trailing zeros and never in exponent form: 10, 2.5, 0.125."""
    if value is None or value == "":
        return ""
    number = Decimal(value).normalize()
    return f"{number:f}"


@register.filter
def days_past_due(invoice: Any, today: date) -> int:
    """Whole days an invoice is past its due date on ``today`` (0: not yet due)."""
    return int(invoice.days_past_due(today))
