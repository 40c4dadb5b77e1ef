from __future__ import annotations

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from apps.catalog import erp  # noqa: PLC0415 - models load before ready(), not before apps.py

        erp.register()
