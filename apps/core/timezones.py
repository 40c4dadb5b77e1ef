"""Time zones people pick from: the IANA names this Python knows, checked on the way in."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


def default_time_zone() -> str:
    """The portal's own (PORTAL_TIME_ZONE): a new company's days are counted there until told otherwise."""
    return str(settings.TIME_ZONE)


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            "%(value)s is not a time zone; choose one such as America/Chicago or Europe/Berlin.",
            params={"value": value},
            code="invalid_time_zone",
        )
