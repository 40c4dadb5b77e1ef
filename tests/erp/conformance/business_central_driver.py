"""The conformance driver for Business Central (API v2.0): the simulator (tools/erp_sim/business_central)
and what BC's own users do in it, through its Python methods. Only this module knows it is Business
Central; the behaviour tests see the ``ErpDriver`` protocol.

BC ids are GUIDs; the seeded customers are listed by code. BC has no price lists (``price_list_ids`` is
always empty) and no archive flag on customers: archiving blocks the customer for every transaction.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from decimal import Decimal

from apps.erp.connectors.base import AddressRecord, Connector, CustomerPush
from apps.erp.models import ErpConnection
from tests.erp.conformance.conftest import SeededCustomer, Stream
from tools.erp_sim.business_central import BusinessCentralSimulator

SEEDED_CUSTOMERS = ("CUST-001", "CUST-002", "CUST-004")  # credit limits 25,000 / 50,000 / 40,000, none held
PRODUCT_SKU = "SKU-00001"
# The entity set behind each stream, and a field a person edits that leaves the record as the portal sees it.
TOUCHED = {
    "customers": ("customers", "phoneNumber"),
    "products": ("items", "displayName2"),
    "orders": ("salesOrders", "shipToContact"),
    "invoices": ("salesInvoices", "customerPurchaseOrderReference"),
}


def bc_connection(
    simulator: BusinessCentralSimulator, *, name: str = "Business Central", url: str = ""
) -> ErpConnection:
    """A connection to the simulator as a person would set one up (the secret in BC_CLIENT_SECRET)."""
    return ErpConnection(
        name=name,
        kind=ErpConnection.Kind.BUSINESS_CENTRAL,
        url=url or simulator.api_url,
        database="CRONUS USA, Inc.",
        username=simulator.client_id,
        password_env="BC_CLIENT_SECRET",
        options={
            "tenant_id": simulator.tenant_id,
            "token_url": simulator.token_url if not url else f"{url}/token",
        },
        timeout_seconds=5,
    )


class BusinessCentralDriver:
    currency = "USD"

    def __init__(self, simulator: BusinessCentralSimulator, connection: ErpConnection) -> None:
        self.sim = simulator
        self.connection = connection

    # -- seeded data -------------------------------------------------------------------------------------
    def customers(self) -> list[SeededCustomer]:
        seeded = []
        for code in SEEDED_CUSTOMERS:
            row = self.sim.record("customers", self.sim.customer_id(code))
            address = AddressRecord(
                row["id"], row["addressLine1"], row["city"], row["postalCode"], row["state"], row["country"]
            )
            seeded.append(SeededCustomer(row["id"], code, address))
        return seeded

    def product_erp_id(self) -> str:
        return self.sim.item_id(PRODUCT_SKU)

    def unknown_customer_erp_id(self) -> str:
        return str(uuid.UUID(int=0xC0FFEE))

    def unknown_product_erp_id(self) -> str:
        return str(uuid.UUID(int=0xBADF00D))

    def invalid_customer(self, code: str) -> CustomerPush:
        # Customer.Name is 100 characters: BC refuses more (Application_StringExceededLength).
        return CustomerPush(code=code, name="Typo Tools " + "x" * 100)

    # -- changes in BC -----------------------------------------------------------------------------------
    def touch(self, stream: Stream, erp_ids: Sequence[str], at: datetime | None = None) -> None:
        for erp_id in erp_ids:
            entity_set, field = TOUCHED[stream]
            if stream == "orders" and erp_id not in {r["id"] for r in self.sim.records("salesOrders")}:
                # BC deleted the order once invoiced: its invoice is what a person edits (and what the
                # orders stream follows).
                erp_id = next(r["id"] for r in self.sim.records("salesInvoices") if r["orderId"] == erp_id)
                entity_set, field = TOUCHED["invoices"]
            value = self.sim.record(entity_set, erp_id).get(field) or ""
            self.sim.edit(entity_set, erp_id, at=at, **{field: f"{value} (edited)".strip()})

    def move_stock(self, product_erp_id: str, quantity: Decimal) -> None:
        self.sim.adjust_inventory(product_erp_id, quantity)

    def set_credit_limit(self, customer_erp_id: str, amount: Decimal) -> None:
        self.sim.set_credit_limit(customer_erp_id, amount)

    def confirm_order(self, order_erp_id: str) -> None:
        """A person releases the order (BC's API cannot)."""
        self.sim.release(order_erp_id)

    def hold_customer(self, customer_erp_id: str, on: bool) -> None:
        """The customer's ``blocked`` set to "Ship" (no new shipments: the credit controller's hold; "All"
        is what archiving does here) or cleared to " "."""
        self.sim.set_blocked(customer_erp_id, "Ship" if on else " ")

    def ship_order(self, order_erp_id: str) -> None:
        self.sim.ship(order_erp_id)

    def invoice_order(self, order_erp_id: str) -> str:
        return self.sim.ship_and_invoice(order_erp_id)

    def pay_invoice(self, invoice_erp_id: str, amount: Decimal) -> None:
        self.sim.pay(invoice_erp_id, amount)

    def credit_note(self, customer_erp_id: str, amount: Decimal) -> str:
        """A posted salesCreditMemo for the customer, applied to no invoice (status Open)."""
        return self.sim.customer_credit_memo(customer_erp_id, amount)

    def refund_credit_note(self, credit_note_erp_id: str, amount: Decimal) -> None:
        """A refund applied to the memo: BC's API shows it only once the memo is closed (status Paid)."""
        self.sim.refund(credit_note_erp_id, amount)

    def deliver_notifications(self) -> None:
        """The simulator POSTs what its subscriptions' coalescing windows hold now (BC waits ~30 s)."""
        self.sim.flush_notifications()

    def price_list_ids(self, key: str) -> list[str]:
        return []  # BC v2.0 has no price lists

    def archive_product(self, product_erp_id: str) -> None:
        self.sim.edit("items", product_erp_id, blocked=True)

    def archive_customer(self, customer_erp_id: str) -> None:
        self.sim.set_blocked(customer_erp_id, "All")

    def new_product(self, sku: str) -> str:
        return self.sim.new_item(sku)

    def set_product_cost(self, product_erp_id: str, cost: Decimal) -> None:
        self.sim.edit("items", product_erp_id, unitCost=cost)

    def delete_product(self, product_erp_id: str) -> None:
        self.sim.delete_item(product_erp_id)

    def duplicate_sale_reference(self, order_erp_id: str) -> str:
        return self.sim.copy_order(order_erp_id)

    # -- failures ----------------------------------------------------------------------------------------
    @contextmanager
    def losing_the_answer(self, connector: Connector) -> Iterator[None]:
        self.sim.drop_next_write()
        try:
            yield
        finally:
            left = self.sim.drop_writes
            self.sim.drop_writes = 0
        assert left == 0, "the connector sent no write"

    def dead_connection(self) -> ErpConnection:
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # free, and closed again: nothing listens there
        return bc_connection(
            self.sim, name="Dead ERP", url=f"http://127.0.0.1:{port}/v2.0/production/api/v2.0"
        )
