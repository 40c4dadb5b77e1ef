from __future__ import annotations

from django.apps import AppConfig


class OrderListsConfig(AppConfig):
    name = "apps.order_lists"
    label = "order_lists"
    verbose_name = "Order lists"
