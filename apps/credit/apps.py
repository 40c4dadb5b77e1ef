from __future__ import annotations

from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "apps.credit"
    label = "credit"
    verbose_name = "Credit"

    def ready(self) -> None:
        from apps.credit import erp  # noqa: PLC0415 - models load before ready(), not before apps.py

        erp.register()
