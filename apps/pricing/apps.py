from __future__ import annotations

from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "apps.pricing"
    label = "pricing"
    verbose_name = "Pricing"

    def ready(self) -> None:
        from apps.pricing import erp  # noqa: PLC0415 - models load before ready(), not before apps.py

        erp.register()
