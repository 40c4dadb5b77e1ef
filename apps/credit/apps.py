from __future__ import annotations

from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "apps.credit"
    label = "credit"
    verbose_name = "Credit"

    def ready(self) -> None:
        from apps.credit import erp  # models are loaded only now

        erp.register()
