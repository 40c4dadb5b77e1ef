"""The portal's flows against Odoo 19 (the JSON-2 simulator, ``tools.erp_sim.odoo``), through the real
engine (``apps.erp.services.dispatch``, ``apps.erp.inbound.pull_stream``) and the real connector over HTTP:
customers and products in, prices out as an Odoo pricelist, a PO approved and pushed exactly once (also
after an interrupted attempt and under 429s and 5xx), followed to invoiced, invoices and credit exposure,
and Odoo's credit limit (Odoo has no credit hold: the portal's check is the one that holds). Also the
client's mapping of Odoo's error bodies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.catalog.erp import PRODUCTS, STOCK
from apps.catalog.models import Product, StockLevel
from apps.credit.erp import INVOICES
from apps.credit.models import CreditAccount, Invoice
from apps.credit.selectors import credit_position_get
from apps.erp import inbound, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    AddressRecord,
    Connector,
    Cursor,
    ErpBusinessError,
    ErpTransientError,
    OrderCancel,
    OrderLinePush,
    OrderPush,
)
from apps.erp.connectors.odoo import OdooClient, OdooConnector
from apps.erp.models import ErpConnection, SyncJob
from apps.pricing import services as pricing
from apps.pricing.models import PriceTier
from apps.pricing.selectors import price_resolve
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import MembershipFactory, UserFactory
from tools.erp_sim.odoo import API_KEY, DATABASE, OdooSim

Status = PurchaseOrder.Status
D = Decimal


@pytest.fixture
def sim() -> Iterator[OdooSim]:
    simulator = OdooSim(products=40).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connection(db: None, sim: OdooSim, settings, monkeypatch: pytest.MonkeyPatch) -> ErpConnection:  # type: ignore[no-untyped-def]
    """The portal's default connection, configured for Odoo (ERP_KIND and its variables)."""
    settings.ERP_KIND = "odoo"
    settings.ERP_URL = sim.url
    settings.ERP_DATABASE = DATABASE
    settings.ERP_USERNAME = "portal-bot"
    monkeypatch.setenv("ERP_PASSWORD", API_KEY)
    return services.connection_get_default()


@pytest.fixture
def connector(connection: ErpConnection) -> Iterator[Connector]:
    active = connector_for(connection)
    assert isinstance(active, OdooConnector)
    active.client.backoff = 0.01  # retries inside a call without slowing the tests
    yield active
    active.close()


def _pull(connection: ErpConnection, connector: Connector, *streams: str) -> None:
    for stream in streams:
        report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
        assert report.error == "", (stream, report.error)


def _submit(company: Company, number: str, *lines: tuple[str, str]) -> PurchaseOrder:
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=company, buyer=buyer)
    order.customer_po_number = number
    order.ship_to = company.ship_to_addresses.filter(erp_address_id__gt="").first()
    order.save()
    orders.purchase_order_lines_add(
        purchase_order=order,
        lines=[ParsedLine(n, sku, D(quantity), "") for n, (sku, quantity) in enumerate(lines, 1)],
    )
    return purchase_order_submit_and_route(purchase_order=order, actor=buyer)


def _sales(sim: OdooSim, reference: str) -> list[dict[str, object]]:
    return sim.find("sale.order", [["client_order_ref", "=", reference]])


def _due_now() -> None:
    """The backoff of retried jobs has passed."""
    SyncJob.objects.filter(status=SyncJob.Status.PENDING).update(next_attempt_at=timezone.now())


# --- customers and products in --------------------------------------------------------------------------


def test_customers_products_and_stock_come_in_with_ship_to_contacts_terms_and_limits(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    _pull(connection, connector, CUSTOMERS, PRODUCTS, STOCK)

    acme = Company.objects.get(erp_customer_code="CUST-001")
    (partner,) = sim.find("res.partner", [["ref", "=", "CUST-001"]])
    deliveries = sim.find("res.partner", [["parent_id", "=", partner["id"]], ["type", "=", "delivery"]])
    assert acme.erp_party_id == str(partner["id"])
    assert sorted(acme.ship_to_addresses.values_list("erp_address_id", flat=True)) == sorted(
        str(row["id"]) for row in deliveries
    )
    account = CreditAccount.objects.get(company=acme)
    assert account.credit_limit == D("25000.00")
    assert account.payment_term is not None
    assert account.payment_term.net_days == 30
    assert not acme.is_on_hold
    product = Product.objects.get(sku="SKU-00001")
    (row,) = sim.find("product.product", [["default_code", "=", "SKU-00001"]])
    assert (product.erp_id, product.list_price) == (str(row["id"]), row["lst_price"])
    assert Product.objects.count() == len(sim.find("product.product", []))  # archived ones too

    # Stock moved in Odoo writes quants, not products: the stock stream sees it.
    before = StockLevel.objects.get(product=product).quantity
    assert before == row_quantity(sim, row["id"])
    sim.advance()
    sim.move_stock(row["id"], D(7))
    _pull(connection, connector, STOCK)
    assert StockLevel.objects.get(product=product).quantity == before + 7


def row_quantity(sim: OdooSim, product_id: int) -> Decimal:
    return sum(
        (quant["quantity"] for quant in sim.find("stock.quant", [["product_id", "=", product_id]])), D(0)
    )


# --- prices out -------------------------------------------------------------------------------------------


def test_a_tier_goes_out_as_an_odoo_pricelist_that_prices_as_the_portal_does(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    assert connector.capabilities.price_lists
    _pull(connection, connector, CUSTOMERS, PRODUCTS)
    actor = UserFactory()
    gold = PriceTier.objects.create(name="Gold", default_discount_percent=D("12.50"))
    acme = Company.objects.get(erp_customer_code="CUST-001")
    pricing.company_tier_assign(actor=actor, company=acme, tier=gold)
    skus = ["SKU-00001", "SKU-00002", "SKU-00003"]
    products = {sku: Product.objects.get(sku=sku) for sku in skus}
    today = timezone.localdate()
    pricing.tier_price_save(
        actor=actor,
        tier=gold,
        product=products["SKU-00001"],
        min_quantity=D("10"),
        unit_price=D("0.1100"),
        valid_from=today,
        valid_to=None,
    )

    report = services.dispatch(connection=connection, connector=connector)
    again = services.dispatch(connection=connection, connector=connector)

    assert (report.failed, report.dead, again.claimed) == (0, 0, 0)
    assert SyncJob.objects.get(kind="pricelist.push").status == SyncJob.Status.SUCCEEDED
    (pricelist,) = [row for row in sim.find("product.pricelist", []) if row["name"].endswith("]")]
    (partner,) = sim.find("res.partner", [["ref", "=", "CUST-001"]])
    assert partner["property_product_pricelist"] == pricelist["id"]
    stamp = sim.stamp()
    for sku, product in products.items():
        for quantity in (D("1"), D("10"), D("25")):
            portal = price_resolve(account=acme, product=product, quantity=quantity, on_date=today)
            odoo = sim.price(pricelist["id"], int(product.erp_id), quantity, stamp)
            assert odoo.quantize(D("0.0001")) == portal.unit_price, (sku, quantity)


# --- a PO pushed once, followed to invoiced ---------------------------------------------------------------


def test_an_order_goes_to_odoo_once_and_is_followed_to_invoiced_with_exposure(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    _pull(connection, connector, CUSTOMERS, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    order = _submit(acme, "PO-ODOO-1", ("SKU-00001", "5"), ("SKU-00002", "3"))
    assert order.status == Status.APPROVED
    frozen = {line.product.erp_id: line.unit_price for line in order.lines.select_related("product")}
    Product.objects.filter(sku="SKU-00001").update(list_price=D("9.9999"))  # after submit: not sent

    report = services.dispatch(connection=connection, connector=connector)
    services.dispatch(connection=connection, connector=connector)

    assert report.succeeded == 1
    order.refresh_from_db()
    assert order.status == Status.ACCEPTED
    (sale,) = _sales(sim, "PO-ODOO-1")
    assert (sale["state"], sale["partner_id"], order.erp_reference) == (
        "sale",
        int(acme.erp_party_id),
        sale["name"],
    )
    lines = sim.find("sale.order.line", [["order_id", "=", sale["id"]]])
    assert {str(line["product_id"]): line["price_unit"] for line in lines} == frozen
    assert str(sale["partner_shipping_id"]) == order.ship_to.erp_address_id

    sim.advance()
    sim.ship(sale["id"])
    _pull(connection, connector, ORDER_STATES)
    order.refresh_from_db()
    assert order.status == Status.SHIPPED

    sim.advance()
    move = sim.invoice(sale["id"])
    _pull(connection, connector, ORDER_STATES, INVOICES)
    _pull(connection, connector, ORDER_STATES)  # idempotent
    order.refresh_from_db()
    assert order.status == Status.INVOICED
    invoice = Invoice.objects.get(erp_id=str(move))
    total = sum((line["price_subtotal"] for line in lines), D(0))
    assert (invoice.company, invoice.total_amount, invoice.amount_paid, invoice.state) == (
        acme,
        total,
        D("0.00"),
        "posted",
    )
    assert list(invoice.purchase_orders.all()) == [order]
    exposure = credit_position_get(company=acme).exposure

    sim.advance()
    sim.pay(move, D("10.00"))
    _pull(connection, connector, INVOICES)
    invoice.refresh_from_db()
    assert invoice.amount_paid == D("10.00")
    assert credit_position_get(company=acme).exposure == exposure - D("10.00")


def test_an_interrupted_push_is_retried_into_one_sale(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    _pull(connection, connector, CUSTOMERS, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    order = _submit(acme, "PO-ODOO-LOST", ("SKU-00001", "2"))

    sim.drop_next_write()  # the create commits in Odoo; its answer never comes back
    first = services.dispatch(connection=connection, connector=connector)
    assert (first.succeeded, first.retrying) == (0, 1)
    assert len(_sales(sim, "PO-ODOO-LOST")) == 1
    _due_now()
    second = services.dispatch(connection=connection, connector=connector)

    assert second.succeeded == 1
    (sale,) = _sales(sim, "PO-ODOO-LOST")
    assert sale["state"] == "sale"
    order.refresh_from_db()
    assert (order.status, order.erp_reference) == (Status.ACCEPTED, sale["name"])


def test_429s_and_5xx_are_retried_and_the_order_still_makes_one_sale(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    _pull(connection, connector, CUSTOMERS, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    _submit(acme, "PO-ODOO-BUSY", ("SKU-00003", "4"))

    # A few 429s (one with Retry-After) and a 503: the reads are retried inside the call.
    sim.fail_next(2, 429, retry_after="0")
    sim.fail_next(1, 503)
    busy = services.dispatch(connection=connection, connector=connector)
    assert busy.succeeded == 1
    assert len(_sales(sim, "PO-ODOO-BUSY")) == 1

    # A longer outage of 500s: the job waits for its backoff, then goes through, still once.
    other = _submit(acme, "PO-ODOO-DOWN", ("SKU-00003", "1"))
    sim.fail_next(10, 500)
    down = services.dispatch(connection=connection, connector=connector)
    assert (down.succeeded, down.retrying) == (0, 1)
    assert _sales(sim, "PO-ODOO-DOWN") == []
    sim.faults.clear()
    _due_now()
    up = services.dispatch(connection=connection, connector=connector)
    assert up.succeeded == 1
    assert len(_sales(sim, "PO-ODOO-DOWN")) == 1
    other.refresh_from_db()
    assert other.status == Status.ACCEPTED


# --- credit: Odoo's limit, the portal's hold ----------------------------------------------------------------


def test_a_limit_lowered_in_odoo_holds_the_next_order_in_the_portal_and_odoo_never_gets_it(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    """Odoo only warns about credit (``credit_limit_enforced`` False) and has no hold flag
    (``customer_holds`` False): its limit comes in with the customer, and the portal's own credit check
    sends an order over it to finance; nothing reaches Odoo."""
    caps = connector.capabilities
    assert (caps.credit_limit_enforced, caps.customer_holds) == (False, False)
    _pull(connection, connector, CUSTOMERS, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    sim.advance()
    sim.set_credit_limit(int(acme.erp_party_id), D("50.00"))
    _pull(connection, connector, CUSTOMERS)
    assert CreditAccount.objects.get(company=acme).credit_limit == D("50.00")
    acme.refresh_from_db()
    assert not acme.is_on_hold  # Odoo has nothing the pull reads as a hold

    order = _submit(acme, "PO-ODOO-OVER", ("SKU-00001", "500"))
    services.dispatch(connection=connection, connector=connector)

    assert order.status == Status.CREDIT_HOLD
    assert _sales(sim, "PO-ODOO-OVER") == []


def test_a_credit_note_comes_with_what_was_refunded(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    """``credit_memo_amount_paid``: an out_refund has amount_residual like an invoice, so what was refunded
    is known (negative amounts, as base.InvoiceRecord wants credit notes)."""
    assert connector.capabilities.credit_memo_amount_paid
    order = _quotation(connector, sim, "PO-ODOO-REFUND")
    (pushed,) = connector.push_orders([order])
    invoice = sim.invoice(int(pushed.erp_id))
    sim.advance()
    note = sim.refund(invoice, D("2.50"))

    (posted,) = [r for r in connector.pull_invoices(Cursor(), 100).records if r.erp_id == str(note)]
    sim.advance()
    sim.pay(note, D("2.50"))
    (used,) = connector.pull_invoices(Cursor(since=posted.changed_at + timedelta(seconds=1)), 100).records

    assert (posted.total_amount, posted.amount_paid, posted.state) == (D("-2.50"), D("0.00"), "posted")
    assert (used.erp_id, used.total_amount, used.amount_paid, used.state) == (
        str(note),
        D("-2.50"),
        D("-2.50"),
        "paid",
    )


# --- cancel without the wizard; locked orders --------------------------------------------------------------


def _quotation(connector: Connector, sim: OdooSim, reference: str) -> OrderPush:
    (customer,) = sim.find("res.partner", [["ref", "=", "CUST-002"]])
    (product,) = sim.find("product.product", [["default_code", "=", "SKU-00001"]])
    return OrderPush(
        reference=reference,
        customer_erp_id=str(customer["id"]),
        ship_to=AddressRecord(str(customer["id"]), "", "", "", "", "US"),
        lines=[OrderLinePush(str(product["id"]), D(2), D("3.2500"))],
    )


def test_a_sent_quotation_is_cancelled_without_the_wizard_and_a_locked_order_is_refused(
    connection: ErpConnection, connector: Connector, sim: OdooSim
) -> None:
    sent = _quotation(connector, sim, "PO-ODOO-SENT")
    with sim.lock:
        sim.drop_writes = 1  # the create commits; the confirm is never sent: a quotation stays
    with pytest.raises(ErpTransientError):
        connector.push_orders([sent])
    (sale,) = _sales(sim, "PO-ODOO-SENT")
    sim.edit("sale.order", sale["id"], {"state": "sent"})  # a person e-mailed the quotation

    (cancelled,) = connector.cancel_orders([OrderCancel(sent.reference, sent.customer_erp_id)])

    assert (cancelled.erp_id, cancelled.state, cancelled.error) == (str(sale["id"]), "cancelled", "")
    assert _sales(sim, "PO-ODOO-SENT")[0]["state"] == "cancel"

    sim.settings["lock_confirmed_sales"] = True
    locked = _quotation(connector, sim, "PO-ODOO-LOCKED")
    (pushed,) = connector.push_orders([locked])
    (refused,) = connector.cancel_orders([OrderCancel(locked.reference, locked.customer_erp_id)])

    assert (refused.erp_id, refused.state) == (pushed.erp_id, "confirmed")
    assert "unlock" in refused.error.lower()
    (still,) = _sales(sim, "PO-ODOO-LOCKED")
    assert (still["state"], still["locked"]) == ("sale", True)


# --- the client's error mapping -----------------------------------------------------------------------------


def test_odoo_errors_map_to_transient_and_business_errors_for_a_person(sim: OdooSim) -> None:
    client = OdooClient(sim.url, DATABASE, API_KEY, retries=1, backoff=0.01)
    try:
        sim.fail_next(1, 409)
        assert client.call("res.partner", "search", domain=[["ref", "=", "CUST-001"]]) == [2]  # retried read
        sim.fail_next(2, 503)
        with pytest.raises(ErpTransientError):
            client.call("res.partner", "search", domain=[])  # still busy after its retry
        sim.fail_next(1, 500)
        with pytest.raises(ErpTransientError):
            client.call("res.partner", "create", vals_list=[{"name": "Once"}])  # a write is never resent
        assert sim.find("res.partner", [["name", "=", "Once"]]) == []
        with pytest.raises(ErpBusinessError) as refused:
            client.call("res.partner", "create", vals_list=[{"name": "Bad", "vat": "??"}])
        assert "VAT" in refused.value.message
        sim.user_groups[2] -= {"account.group_account_invoice", "account.group_account_readonly"}
        with pytest.raises(ErpBusinessError) as denied:
            client.call("res.partner", "read", ids=[2], fields=["credit_limit"])
        assert "account.group_account_invoice" in denied.value.message
        assert "bot user" in denied.value.message
        with pytest.raises(ErpBusinessError):
            client.call("res.partner", "read", ids=[999999], fields=["name"])
    finally:
        client.close()
    expired = OdooClient(sim.url, DATABASE, "wrong-key", retries=0)
    try:
        with pytest.raises(ErpTransientError) as unauthorized:
            expired.call("res.partner", "search", domain=[])
        assert "API key" in unauthorized.value.message
    finally:
        expired.close()


def test_webhook_bodies_name_the_streams_to_pull() -> None:
    streams = OdooConnector.webhook_streams
    assert streams({"_model": "res.partner", "_id": 7, "_action": "Send Webhook Notification(#7)"}) == {
        "customers"
    }
    assert streams({"_model": "account.move", "_id": 3}) == {"invoices", "orders"}
    assert streams({"_model": "stock.quant", "_id": 1}) == {"stock"}
    assert streams({"_model": "res.bank", "_id": 1}) == set()
    assert streams({"_id": 1}) == set()
