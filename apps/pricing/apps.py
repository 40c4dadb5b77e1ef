from __future__ import annotations

from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "apps.pricing"
    label = "pricing"
    verbose_name = "Pricing"

    def ready(self) -> None:
        from apps.pricing import erp  # models are loaded only now

        erp.register()
