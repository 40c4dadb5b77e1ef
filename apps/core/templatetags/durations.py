from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


@register.filter
def human_duration(value: timedelta | None) -> str:
    """``timedelta(hours=1, minutes=30)`` as "1 hour 30 minutes" (the lockout page said "PT1H");
    the two largest units, rounded down to the second; "" for nothing, so ``|default:`` can say more."""
    if not isinstance(value, timedelta) or value.total_seconds() <= 0:
        return ""
    seconds = int(value.total_seconds())
    parts = []
    for name, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts[:2])
