from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "apps.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from apps.approvals.services import GATE  # noqa: PLC0415 - models load before ready(), not before apps.py
        from apps.purchase_orders.gates import gate_register  # noqa: PLC0415 - likewise

        gate_register(GATE)  # submitted orders are routed through the company's rules
