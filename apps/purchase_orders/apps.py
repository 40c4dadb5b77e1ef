from __future__ import annotations

from django.apps import AppConfig


class PurchaseOrdersConfig(AppConfig):
    name = "apps.purchase_orders"
    label = "purchase_orders"
    verbose_name = "Purchase orders"

    def ready(self) -> None:
        from apps.purchase_orders import erp  # models are loaded only now

        erp.register()
