from __future__ import annotations

from django.apps import AppConfig


class PurchaseOrdersConfig(AppConfig):
    name = "apps.purchase_orders"
    label = "purchase_orders"
    verbose_name = "Purchase orders"

    def ready(self) -> None:
        from apps.purchase_orders import erp  # noqa: PLC0415 - models load before ready(), not before apps.py

        erp.register()
