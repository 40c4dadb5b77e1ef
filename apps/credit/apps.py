from __future__ import annotations

from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "apps.credit"
    label = "credit"
    verbose_name = "Credit"

    def ready(self) -> None:
        from apps.credit import erp  # noqa: PLC0415 - models load before ready(), not before apps.py
        from apps.credit.services import credit_gate  # noqa: PLC0415 - likewise
        from apps.purchase_orders.gates import gate_register  # noqa: PLC0415 - likewise

        erp.register()
        gate_register(
            credit_gate()
        )  # cancelled orders withdraw their hold; the ERP's credit answers come here
