"""The connector conformance suite's fixture: one ``erp`` per connector kind, each a real connector (built
by ``apps.erp.connectors.connector_for`` from an ``ErpConnection`` row, as the engine builds it) and a
driver that changes the ERP behind the connector's back, the way the ERP's own users would.

A new connector joins the suite with two things: a param in ``erp``'s ``params`` (below) and a driver
module beside ``tryton_driver.py`` implementing ``ErpDriver``. Every test in this package then runs
against it too; a test that fails for the new connector is a behaviour the engine relies on and the
connector does not give. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

import pytest

from apps.erp.connectors import connector_for
from apps.erp.connectors.base import AddressRecord, Connector, CustomerPush, OrderPushResult
from apps.erp.models import ErpConnection

Stream = Literal["customers", "products", "orders", "invoices"]


@dataclass(frozen=True)
class SeededCustomer:
    """A customer the ERP has before any test runs: in good standing, no credit hold, room in its
    credit for orders of a few hundred in the ERP's currency; ``ship_to`` is one of its addresses."""

    erp_id: str
    code: str
    ship_to: AddressRecord


class ErpDriver(Protocol):
    """What the conformance tests do to an ERP besides calling its connector: read its seeded data and
    change it the way the ERP's own users would (an edit, a credit limit, a shipment, a posted invoice, a
    payment). Implement this for a new connector (a real test server, or the connector's HTTP mocked)
    and add its param to the ``erp`` fixture; the behaviour tests stay the same for every ERP.

    Records are named by the connector's own ids (``erp_id`` strings as its records carry them).
    """

    currency: str  # the currency code of the seeded customers' invoices

    def customers(self) -> list[SeededCustomer]:
        """At least three distinct seeded customers (see ``SeededCustomer``), in ascending id order."""
        ...

    def product_erp_id(self) -> str:
        """A salable, untaxed product any seeded customer may order at any unit price with 4 decimals."""
        ...

    def unknown_customer_erp_id(self) -> str:
        """An id shaped like the ERP's customer ids that no customer has."""
        ...

    def unknown_product_erp_id(self) -> str:
        """An id shaped like the ERP's product ids that no product has."""
        ...

    def invalid_customer(self, code: str) -> CustomerPush:
        """A new customer (code ``code``) whose content the ERP refuses (e.g. an invalid tax number)."""
        ...

    def touch(self, stream: Stream, erp_ids: Sequence[str], at: datetime | None = None) -> None:
        """Edit these records of ``stream`` as an ERP user would (e.g. their name or a comment), one
        transaction per record, in the order given: each record's change stamp becomes the ERP's now,
        strictly later than the one before. ``at``: the change commits now but is stamped ``at`` (earlier
        than now), as a long ERP transaction that began at ``at`` stamps its rows."""
        ...

    def move_stock(self, product_erp_id: str, quantity: Decimal) -> None:
        """Receive ``quantity`` of the product into the warehouse the connector reports stock of."""
        ...

    def set_credit_limit(self, customer_erp_id: str, amount: Decimal) -> None:
        """The ERP's credit controller sets the customer's credit limit."""
        ...

    def confirm_order(self, order_erp_id: str) -> None:
        """A person confirms (releases) the sale in the ERP: what follows a push where the connector
        cannot confirm through the API (``capabilities.order_confirm`` False); nothing where it can."""
        ...

    def hold_customer(self, customer_erp_id: str, on: bool) -> None:
        """The ERP's credit controller puts the customer on credit hold (``on``) or lifts it, the way
        that ERP does; where it has no hold (``capabilities.customer_holds`` False), nothing."""
        ...

    def ship_order(self, order_erp_id: str) -> None:
        """The warehouse ships the whole sale."""
        ...

    def invoice_order(self, order_erp_id: str) -> str:
        """Accounting posts the sale's (one) invoice, dated today: its ``erp_id``."""
        ...

    def pay_invoice(self, invoice_erp_id: str, amount: Decimal) -> None:
        """The customer pays ``amount`` of a posted invoice (less than what is left: a partial payment)."""
        ...

    def credit_note(self, customer_erp_id: str, amount: Decimal) -> str:
        """Accounting posts a credit note of ``amount`` (positive) for the customer, dated today and
        applied to no invoice: its ``erp_id`` as the invoice pull reports it (with a negative total)."""
        ...

    def refund_credit_note(self, credit_note_erp_id: str, amount: Decimal) -> None:
        """The customer is refunded ``amount`` (positive, at most what is left) of a posted credit note."""
        ...

    def deliver_notifications(self) -> None:
        """The ERP sends the change notifications it holds now, without waiting out its own delay (Business
        Central coalesces a subscription's changes for about 30 s, then POSTs one notification to its
        notificationUrl). Nothing where the ERP calls no one (``capabilities.change_notifications``
        False: the portal polls ``changed_streams``)."""
        ...

    def price_list_ids(self, key: str) -> list[str]:
        """The ids of the ERP price lists pushed under ``key`` (idempotency key), whatever their state."""
        ...

    def archive_product(self, product_erp_id: str) -> None:
        """A person archives (deactivates) the product in the ERP; it stays there."""
        ...

    def archive_customer(self, customer_erp_id: str) -> None:
        """A person archives (deactivates) the customer in the ERP; it stays there."""
        ...

    def new_product(self, sku: str) -> str:
        """A new product (SKU ``sku``) made in the ERP, never moved nor sold: its ``erp_id``."""
        ...

    def set_product_cost(self, product_erp_id: str, cost: Decimal) -> None:
        """Purchasing sets the product's cost (what buying or making one costs) in the ERP."""
        ...

    def delete_product(self, product_erp_id: str) -> None:
        """A person deletes a product (one never moved nor sold) from the ERP."""
        ...

    def duplicate_sale_reference(self, order_erp_id: str) -> str:
        """A person copies the sale, keeping its customer and reference (the customer's PO number), so
        the ERP holds two sales of one portal order: the copy's ``erp_id``."""
        ...

    def losing_the_answer(self, connector: Connector) -> AbstractContextManager[None]:
        """Within the block, the first write the connector sends reaches the ERP and is committed, but
        its answer never comes back: the connector raises ``ErpTransientError`` (an interrupted push)."""
        ...

    def dead_connection(self) -> ErpConnection:
        """A connection of this ERP's kind to an address where nothing answers (a closed port)."""
        ...


CONFIRMED = ("confirmed", "processing")  # a confirmed sale, before it is done (base.OrderStateRecord)


def pushed_states(erp: ConformanceErp) -> tuple[str, ...]:
    """The states a pushed order is in: confirmed where the push confirms it (``order_confirm``), else a
    quotation left for the ERP's people."""
    return CONFIRMED if erp.connector.capabilities.order_confirm else ("quotation",)


def assert_pushed_then_confirmed(erp: ConformanceErp, results: Sequence[OrderPushResult]) -> None:
    """Each order went in without error, in the state its push leaves it (``pushed_states``); where the
    ERP's people confirm it, the driver does (so every sale is confirmed afterwards)."""
    for result in results:
        assert (result.error, result.state in pushed_states(erp)) == ("", True), result
        if not erp.connector.capabilities.order_confirm:
            erp.driver.confirm_order(result.erp_id)


@dataclass(frozen=True)
class ConformanceErp:
    kind: str
    connection: ErpConnection
    connector: Connector
    driver: ErpDriver


@pytest.fixture(params=["tryton", "business_central", "odoo"])
def erp(
    db: None, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, settings: object
) -> Iterator[ConformanceErp]:
    """A fresh ERP per test (Tryton: a copy of the seeded template on its own port, about 1 s; Business
    Central and Odoo: a freshly seeded simulator on its own port)."""
    stops: list[Callable[[], None]] = []
    if request.param == "tryton":
        # Imported here: the driver module imports this one (SeededCustomer, Stream).
        from tests.erp.conformance.tryton_driver import TrytonDriver, finance_user

        connection: ErpConnection = request.getfixturevalue("erp_connection")
        server = request.getfixturevalue("erp_server")
        admin = request.getfixturevalue("erp_admin")
        # The finance user confirms orders whose credit warning finance accepted (accept_credit_warning);
        # the connector reads it from the environment (and from settings, should it move there).
        username, password = finance_user(server)
        for name, value in (("ERP_FINANCE_USERNAME", username), ("ERP_FINANCE_PASSWORD", password)):
            monkeypatch.setenv(name, value)
            setattr(settings, name, value)
        driver: ErpDriver = TrytonDriver(admin, server, connection)
    elif request.param == "business_central":
        from tests.erp.conformance.business_central_driver import BusinessCentralDriver, bc_connection
        from tools.erp_sim.business_central import CLIENT_SECRET, BusinessCentralSimulator

        simulator = BusinessCentralSimulator(notification_delay=0.2).start()
        stops.append(simulator.stop)
        monkeypatch.setenv("BC_CLIENT_SECRET", CLIENT_SECRET)
        connection = bc_connection(simulator)
        connection.save()
        driver = BusinessCentralDriver(simulator, connection)
    elif request.param == "odoo":
        # Imported here: the driver module imports this one (SeededCustomer, Stream).
        from tests.erp.conformance.odoo_driver import OdooDriver
        from tools.erp_sim.odoo import API_KEY, DATABASE, OdooSim

        sim = OdooSim().start()
        stops.append(sim.stop)
        monkeypatch.setenv("ODOO_SIM_API_KEY", API_KEY)
        connection = ErpConnection.objects.create(
            name="Odoo (simulator)",
            kind=ErpConnection.Kind.ODOO,
            url=sim.url,
            database=DATABASE,
            username="portal-bot",
            password_env="ODOO_SIM_API_KEY",
            timeout_seconds=10,
        )
        driver = OdooDriver(sim, connection)
    else:  # pragma: no cover - a param without a driver
        raise ValueError(f"No conformance driver for {request.param!r}")
    connector = connector_for(connection)
    try:
        yield ConformanceErp(request.param, connection, connector, driver)
    finally:
        connector.close()
        for stop in stops:
            stop()
