"""The conformance driver for Odoo 19 (JSON-2): the simulator (``tools.erp_sim.odoo``) seeded like the
Tryton template, changed as Odoo's own users would through its Python methods. Only this module knows it is
Odoo; the behaviour tests see the ``ErpDriver`` protocol.

Odoo stamps ``write_date`` in whole seconds. A person's change comes a moment after the last one: each
change here first lets one second pass on the simulator's clock (``OdooSim.advance``), so changes made one
after another get distinct, increasing stamps, as they would at a person's pace.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from decimal import Decimal

from apps.erp.connectors.base import AddressRecord, Connector, CustomerPush
from apps.erp.models import ErpConnection
from tests.erp.conformance.conftest import SeededCustomer, Stream
from tools.erp_sim.odoo import OdooSim

SEEDED_CUSTOMERS = ("CUST-001", "CUST-002", "CUST-004")  # credit limits 25,000 / 50,000 / 25,000, no hold
PRODUCT_SKU = "SKU-00001"
UNKNOWN_ID = "999999"
INVALID_VAT = "00-1234567"  # not a VAT number Odoo's base_vat accepts: a refusal of the content
# (model, field written) per stream: an edit that leaves the record as the portal sees it.
TOUCHED = {
    "customers": ("res.partner", "comment"),
    "products": ("product.product", "description_sale"),
    "orders": ("sale.order", "note"),
    "invoices": ("account.move", "narration"),
}


class OdooDriver:
    currency = "USD"

    def __init__(self, sim: OdooSim, connection: ErpConnection) -> None:
        self.sim = sim
        self.connection = connection

    # -- seeded data -------------------------------------------------------------------------------------
    def customers(self) -> list[SeededCustomer]:
        rows = self.sim.find(
            "res.partner", [["ref", "in", list(SEEDED_CUSTOMERS)], ["parent_id", "=", False]]
        )
        assert [row["ref"] for row in rows] == sorted(SEEDED_CUSTOMERS)
        result = []
        for row in rows:
            (delivery, *_) = self.sim.find(
                "res.partner", [["parent_id", "=", row["id"]], ["type", "=", "delivery"]]
            )
            result.append(
                SeededCustomer(
                    str(row["id"]), row["ref"], AddressRecord(str(delivery["id"]), "", "", "", "", "US")
                )
            )
        return result

    def product_erp_id(self) -> str:
        (row,) = self.sim.find("product.product", [["default_code", "=", PRODUCT_SKU]])
        return str(row["id"])

    def unknown_customer_erp_id(self) -> str:
        return UNKNOWN_ID

    def unknown_product_erp_id(self) -> str:
        return UNKNOWN_ID

    def invalid_customer(self, code: str) -> CustomerPush:
        return CustomerPush(code=code, name="Typo Tools", tax_identifier=INVALID_VAT)

    # -- changes in the ERP ------------------------------------------------------------------------------
    def touch(self, stream: Stream, erp_ids: Sequence[str], at: datetime | None = None) -> None:
        model, field = TOUCHED[stream]
        for erp_id in erp_ids:
            self.sim.advance()
            (row,) = self.sim.find(model, [["id", "=", int(erp_id)]])
            self.sim.edit(model, int(erp_id), {field: f"{row[field] or ''} (edited)".strip()}, at=at)

    def move_stock(self, product_erp_id: str, quantity: Decimal) -> None:
        self.sim.advance()
        self.sim.move_stock(int(product_erp_id), quantity)

    def set_credit_limit(self, customer_erp_id: str, amount: Decimal) -> None:
        self.sim.advance()
        self.sim.set_credit_limit(int(customer_erp_id), amount)

    def confirm_order(self, order_erp_id: str) -> None:
        """Nothing: the connector's push confirms the sale (``order_confirm``)."""

    def hold_customer(self, customer_erp_id: str, on: bool) -> None:
        """Nothing: Odoo has no credit hold (``customer_holds`` False, see the connector's capabilities);
        a hold is set in the portal only."""

    def ship_order(self, order_erp_id: str) -> None:
        self.sim.advance()
        self.sim.ship(int(order_erp_id))

    def invoice_order(self, order_erp_id: str) -> str:
        self.sim.advance()
        return str(self.sim.invoice(int(order_erp_id)))

    def pay_invoice(self, invoice_erp_id: str, amount: Decimal) -> None:
        self.sim.advance()
        self.sim.pay(int(invoice_erp_id), amount)

    def credit_note(self, customer_erp_id: str, amount: Decimal) -> str:
        """A posted out_refund of ``amount`` for the customer."""
        self.sim.advance()
        return str(self.sim.credit_note(int(customer_erp_id), amount))

    def refund_credit_note(self, credit_note_erp_id: str, amount: Decimal) -> None:
        """The refund paid to the customer, reconciled with the credit note (its amount_residual falls)."""
        self.sim.advance()
        self.sim.pay(int(credit_note_erp_id), amount)

    def deliver_notifications(self) -> None:
        """Nothing: Odoo has no subscriptions (``change_notifications`` False). An Automation Rule's
        "Send Webhook Notification", set up by hand, posts at once on save; nothing is held back."""

    def price_list_ids(self, key: str) -> list[str]:
        marker = f"[{key}]"
        rows = self.sim.find("product.pricelist", [["name", "ilike", marker]])
        return [str(row["id"]) for row in rows if row["name"].endswith(marker)]

    def archive_product(self, product_erp_id: str) -> None:
        self.sim.advance()
        self.sim.archive("product.product", int(product_erp_id))

    def archive_customer(self, customer_erp_id: str) -> None:
        self.sim.advance()
        self.sim.archive("res.partner", int(customer_erp_id))

    def new_product(self, sku: str) -> str:
        self.sim.advance()
        return str(self.sim.new_product(sku, name=f"Conformance {sku}"))

    def set_product_cost(self, product_erp_id: str, cost: Decimal) -> None:
        self.sim.advance()
        self.sim.edit("product.product", int(product_erp_id), {"standard_price": cost})

    def delete_product(self, product_erp_id: str) -> None:
        self.sim.delete("product.product", int(product_erp_id))

    def duplicate_sale_reference(self, order_erp_id: str) -> str:
        (row,) = self.sim.find("sale.order", [["id", "=", int(order_erp_id)]])
        return str(self.sim.copy_sale(row["id"], {"client_order_ref": row["client_order_ref"]}))

    # -- failures ----------------------------------------------------------------------------------------
    @contextmanager
    def losing_the_answer(self, connector: Connector) -> Iterator[None]:
        """The simulator commits the connector's next write and closes the connection unanswered."""
        self.sim.drop_next_write()
        try:
            yield
        finally:
            dropped = self.sim.drop_writes == 0
            self.sim.drop_writes = 0
        assert dropped, "the connector sent no write"

    def dead_connection(self) -> ErpConnection:
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return ErpConnection(
            name="Dead Odoo",
            kind=self.connection.kind,
            url=f"http://127.0.0.1:{port}",
            database=self.connection.database,
            username=self.connection.username,
            password_env=self.connection.password_env,
            timeout_seconds=5,
        )
