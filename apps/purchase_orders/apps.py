from __future__ import annotations

from django.apps import AppConfig


class PurchaseOrdersConfig(AppConfig):
    name = "apps.purchase_orders"
    label = "purchase_orders"
    verbose_name = "Purchase orders"
