"""System checks: a wrong ERP_KIND stops the portal at start with a message, not at the first sync."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

from apps.erp.models import ErpConnection


def erp_kind_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.ERP_KIND in ErpConnection.Kind.values:
        return []
    return [
        Error(
            f"ERP_KIND is {settings.ERP_KIND!r}, which no connector serves.",
            hint="Set ERP_KIND to one of: " + ", ".join(ErpConnection.Kind.values) + " (see the README).",
            id="erp.E001",
        )
    ]
