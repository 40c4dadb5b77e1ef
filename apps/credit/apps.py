from __future__ import annotations

from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "apps.credit"
    label = "credit"
    verbose_name = "Credit"

    def ready(self) -> None:
        # Local: services import models, which must not load before the app registry is ready.
        from apps.credit.services import GATE
        from apps.purchase_orders.gates import gate_register

        gate_register(GATE)  # cancelled orders withdraw their hold; the ERP's credit answers come here
