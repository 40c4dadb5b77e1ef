"""The portal's flows against Business Central (the simulator), through the real engine: customers and
products in, a PO approved and pushed exactly once at its frozen line prices (BC has no price lists), also
after an interrupted attempt and under 429s and 5xx, released by BC's people, followed to shipped,
invoiced and closed; the invoice mirrored into credit exposure; a credit hold ("blocked") from BC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.catalog.erp import PRODUCTS, STOCK
from apps.catalog.models import Product
from apps.credit.erp import INVOICES
from apps.credit.models import CreditAccount, Invoice
from apps.credit.selectors import credit_position_get
from apps.erp import inbound, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Connector
from apps.erp.models import ErpConnection, SyncJob
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import MembershipFactory
from tools.erp_sim.business_central import CLIENT_ID, CLIENT_SECRET, COMPANY_NAME, BusinessCentralSimulator

Status = PurchaseOrder.Status


@dataclass
class Bc:
    sim: BusinessCentralSimulator
    connection: ErpConnection
    connector: Connector

    def pull(self, *streams: str) -> None:
        for stream in streams:
            report = inbound.pull_stream(connection=self.connection, stream=stream, connector=self.connector)
            assert report.error == "", report.error

    def dispatch(self) -> services.DispatchReport:
        SyncJob.objects.filter(status=SyncJob.Status.PENDING).update(next_attempt_at=timezone.now())
        return services.dispatch(connection=self.connection, connector=self.connector)

    def sales(self, reference: str) -> list[dict[str, object]]:
        return [o for o in self.sim.records("salesOrders") if o["externalDocumentNumber"] == reference]


@pytest.fixture
def bc(db: None, settings: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bc]:
    sim = BusinessCentralSimulator().start()
    monkeypatch.setenv("ERP_PASSWORD", CLIENT_SECRET)
    for name, value in {
        "ERP_KIND": ErpConnection.Kind.BUSINESS_CENTRAL,
        "ERP_URL": sim.api_url,
        "ERP_DATABASE": COMPANY_NAME,
        "ERP_USERNAME": CLIENT_ID,
        "ERP_BC_TENANT_ID": sim.tenant_id,
        "ERP_BC_TOKEN_URL": sim.token_url,
    }.items():
        setattr(settings, name, value)
    connection = services.connection_get_default()  # as the engine builds it from the ERP_* settings
    connector = connector_for(connection)
    connector.client.sleep = lambda seconds: None  # type: ignore[attr-defined]  # back-off without waiting
    try:
        yield Bc(sim, connection, connector)
    finally:
        connector.close()
        sim.stop()


def _approved_order(reference: str) -> PurchaseOrder:
    acme = Company.objects.get(erp_customer_code="CUST-001")
    buyer = MembershipFactory(company=acme, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=acme, buyer=buyer)
    order.customer_po_number = reference
    order.ship_to = acme.ship_to_addresses.first()
    order.save()
    orders.purchase_order_lines_add(
        purchase_order=order,
        lines=[ParsedLine(1, "SKU-00001", Decimal("5"), ""), ParsedLine(2, "SKU-00002", Decimal("3"), "")],
    )
    order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    assert order.status == Status.APPROVED
    return order


def test_customers_and_products_come_in_with_limits_terms_addresses_and_stock(bc: Bc) -> None:
    bc.pull(CUSTOMERS, PRODUCTS, STOCK)

    acme = Company.objects.get(erp_customer_code="CUST-001")
    assert acme.name == "Acme Hardware Supply"
    account = CreditAccount.objects.get(company=acme)
    assert account.credit_limit == Decimal("25000.00")
    (address,) = acme.ship_to_addresses.all()  # BC keeps one address per customer
    assert address.erp_address_id == bc.sim.customer_id("CUST-001")
    # A limit of 0 is "no limit" in BC.
    assert CreditAccount.objects.get(company__erp_customer_code="CUST-003").credit_limit is None
    product = Product.objects.get(sku="SKU-00002")
    assert product.list_price == Decimal("6.99")
    assert Product.objects.filter(sku__startswith="SKU-").count() == 520
    stock = bc.sim.record("items", bc.sim.item_id("SKU-00002"))["inventory"]
    assert product.stock.quantity == stock


def test_an_order_reaches_bc_once_at_its_frozen_prices_despite_faults_and_comes_back_invoiced(bc: Bc) -> None:
    bc.pull(CUSTOMERS, PRODUCTS)
    order = _approved_order("PO-BC-FLOW")
    frozen = {line.product.erp_id: line.unit_price for line in order.lines.select_related("product")}
    Product.objects.filter(sku="SKU-00001").update(list_price=Decimal("9.9999"))  # after submit: no effect

    # 5xx on the look-up beyond the client's retries: nothing created, the job waits its backoff.
    bc.sim.fail_next(4, 503)
    first = bc.dispatch()
    assert (first.succeeded, first.retrying) == (0, 1)
    assert bc.sales("PO-BC-FLOW") == []
    # The create reaches BC, its answer is lost: the retry finds that sale instead of making another.
    bc.sim.drop_next_write()
    lost = bc.dispatch()
    assert (lost.succeeded, lost.retrying) == (0, 1)
    assert len(bc.sales("PO-BC-FLOW")) == 1
    # Throttled (429, with and without Retry-After): backed off inside the call, then done.
    bc.sim.fail_next(1, 429, retry_after=1)
    bc.sim.fail_next(1, 429)
    done = bc.dispatch()
    assert done.succeeded == 1
    assert bc.dispatch().claimed == 0

    (sale,) = bc.sales("PO-BC-FLOW")
    assert {line["itemId"]: line["unitPrice"] for line in sale["_lines"]} == frozen  # type: ignore[union-attr]
    assert SyncJob.objects.get(kind="order.push").status == SyncJob.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.status == Status.SENT_TO_ERP  # a draft in BC: its API cannot release it
    assert order.erp_reference == sale["number"]

    # BC's people release it, ship it, invoice it; the portal follows.
    bc.sim.release(str(sale["id"]))
    bc.pull(ORDER_STATES)
    order.refresh_from_db()
    assert order.status == Status.ACCEPTED
    bc.sim.ship(str(sale["id"]))
    bc.pull(ORDER_STATES)
    order.refresh_from_db()
    assert order.status == Status.SHIPPED
    invoice_id = bc.sim.invoice(str(sale["id"]))  # fully invoiced: BC deletes the order
    bc.pull(INVOICES, ORDER_STATES, ORDER_STATES)
    order.refresh_from_db()
    assert order.status == Status.INVOICED

    invoice = Invoice.objects.get(erp_id=invoice_id)
    total = (
        Decimal("5") * frozen[bc.sim.item_id("SKU-00001")]
        + Decimal("3") * frozen[bc.sim.item_id("SKU-00002")]
    )
    assert (invoice.total_amount, invoice.amount_paid, invoice.state) == (
        total.quantize(Decimal("0.01")),
        0,
        "posted",
    )
    assert list(invoice.purchase_orders.all()) == [order]
    position = credit_position_get(company=order.company)
    assert position.open_invoices == invoice.total_amount

    bc.sim.pay(invoice_id, invoice.total_amount)
    bc.pull(INVOICES, ORDER_STATES)
    order.refresh_from_db()
    invoice.refresh_from_db()
    assert (order.status, invoice.state, invoice.amount_paid) == (Status.CLOSED, "paid", invoice.total_amount)
    assert credit_position_get(company=order.company).open_invoices == 0
    assert [change.to_status for change in order.status_changes.all()] == [
        "submitted",
        "approved",
        "sent_to_erp",
        "accepted",
        "shipped",
        "invoiced",
        "closed",
    ]


def test_a_customer_blocked_in_bc_is_on_hold_in_the_portal_and_lifted_with_it(bc: Bc) -> None:
    bc.pull(CUSTOMERS)
    customer = bc.sim.customer_id("CUST-002")

    bc.sim.set_blocked(customer, "Ship")
    bc.pull(CUSTOMERS)
    company = Company.objects.get(erp_customer_code="CUST-002")
    assert company.hold_source == Company.HoldSource.ERP

    bc.sim.set_blocked(customer, " ")
    bc.pull(CUSTOMERS)
    company.refresh_from_db()
    assert company.hold_source == Company.HoldSource.NONE
