from __future__ import annotations

from django.apps import AppConfig


class QuotesConfig(AppConfig):
    name = "apps.quotes"
    label = "quotes"
    verbose_name = "Quotes"

    def ready(self) -> None:
        from apps.quotes import erp  # noqa: PLC0415 - models load before ready(), not before apps.py

        erp.register()
