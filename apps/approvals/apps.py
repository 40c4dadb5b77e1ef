from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "apps.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        # Local: services import models, which must not load before the app registry is ready.
        from apps.approvals.services import GATE
        from apps.purchase_orders.gates import gate_register

        gate_register(GATE)  # submitted orders are routed through the company's rules
