"""One journey per ERP the portal speaks besides Tryton, through the real UI in Chromium: the customer and
products come from the ERP (its simulator, over HTTP), a buyer orders from a spreadsheet export, an
approver signs it off, the engine pushes it once, and the open order page follows it through the ERP's
own steps (released, shipped, invoiced) without a reload; the buyer then sees the invoice."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.approvals.models import ApprovalRule
from apps.catalog.erp import PRODUCTS
from apps.credit.erp import INVOICES
from apps.erp import inbound, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Connector
from apps.erp.models import ErpConnection
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@dataclass
class ErpSide:
    """The ERP's simulator and what its own people do to a sale: release it (an ERP whose API cannot),
    ship it, invoice it (the invoice's number)."""

    kind: str
    url: str
    database: str
    username: str
    secret: str
    release: Callable[[str], None] | None
    ship: Callable[[str], None]
    invoice: Callable[[str], str]
    stop: Callable[[], None]
    options: dict[str, Any]


def _odoo() -> ErpSide:
    from tools.erp_sim.odoo import API_KEY, DATABASE, OdooSim

    sim = OdooSim(products=40).start()

    def invoice(erp_id: str) -> str:
        move = sim.invoice(int(erp_id))
        (row,) = sim.find("account.move", [["id", "=", move]])
        return str(row["name"])

    return ErpSide(
        "odoo",
        sim.url,
        DATABASE,
        "portal-bot",
        API_KEY,
        None,
        lambda erp_id: sim.ship(int(erp_id)),
        invoice,
        sim.stop,
        {},
    )


def _business_central() -> ErpSide:
    from tools.erp_sim.business_central import (
        CLIENT_ID,
        CLIENT_SECRET,
        COMPANY_NAME,
        BusinessCentralSimulator,
    )

    sim = BusinessCentralSimulator().start()

    def invoice(erp_id: str) -> str:
        return str(sim.record("salesInvoices", sim.invoice(erp_id))["number"])

    return ErpSide(
        "business_central",
        sim.api_url,
        COMPANY_NAME,
        CLIENT_ID,
        CLIENT_SECRET,
        sim.release,  # its standard API cannot release an order: a person does, in BC
        sim.ship,
        invoice,
        sim.stop,
        {"ERP_BC_TENANT_ID": sim.tenant_id, "ERP_BC_TOKEN_URL": sim.token_url},
    )


SIDES: dict[str, Callable[[], ErpSide]] = {"odoo": _odoo, "business_central": _business_central}


@pytest.fixture(params=list(SIDES))
def erp_side(request: pytest.FixtureRequest) -> Iterator[ErpSide]:
    side = SIDES[request.param]()
    yield side
    side.stop()


@pytest.fixture
def connection(erp_side: ErpSide, settings, monkeypatch: pytest.MonkeyPatch) -> ErpConnection:  # type: ignore[no-untyped-def]
    settings.ERP_KIND = erp_side.kind
    settings.ERP_URL = erp_side.url
    settings.ERP_DATABASE = erp_side.database
    settings.ERP_USERNAME = erp_side.username
    for name, value in erp_side.options.items():
        setattr(settings, name, value)
    monkeypatch.setenv("ERP_PASSWORD", erp_side.secret)
    return services.connection_get_default()


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _pull(connection: ErpConnection, connector: Connector, *streams: str) -> None:
    for stream in streams:
        report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
        assert not report.error, report.error


def test_an_order_goes_to_the_erp_once_and_the_open_page_follows_it_to_invoiced(  # type: ignore[no-untyped-def]
    live_server, page, browser, erp_side, connection, tmp_path
) -> None:
    connector = connector_for(connection)
    _pull(connection, connector, CUSTOMERS, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    MembershipFactory(company=acme, role=Role.BUYER, user=UserFactory(email="buyer@acme.example"))
    MembershipFactory(company=acme, role=Role.APPROVER, user=UserFactory(email="approver@acme.example"))
    ApprovalRule.objects.create(
        company=acme, name="Every order", condition="total_at_least", amount=1, approver_role=Role.APPROVER
    )
    csv_file = tmp_path / "order.csv"  # as Excel saves "CSV (semicolon)" in Europe: a BOM and ";"
    csv_file.write_bytes("\ufeffSKU;Quantity\r\nSKU-00001;5\r\nSKU-00002;2\r\n".encode())

    # The buyer orders from the spreadsheet and submits.
    _sign_in(page, live_server.url, "buyer@acme.example")
    page.goto(f"{live_server.url}/orders/draft/")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload").click()
    page.locator('#lines [data-sku="SKU-00002"]').wait_for()
    page.get_by_label("Your PO number").fill(f"PO-{erp_side.kind.upper()}-1")
    page.get_by_label("Ship to").select_option(index=1)
    page.get_by_role("button", name="Save details").click()
    page.get_by_role("status").filter(has_text="Order details saved.").wait_for()
    page.get_by_role("button", name="Submit order").click()
    page.wait_for_url(f"{live_server.url}/orders/*/")
    status = page.locator('#live [data-field="status"]')
    assert status.inner_text() == "Awaiting approval"
    page.evaluate("window.__noReload = true")

    # The approver signs it off.
    approver = browser.new_context().new_page()
    approver.set_default_timeout(15_000)
    _sign_in(approver, live_server.url, "approver@acme.example")
    approver.goto(f"{live_server.url}/approvals/")
    approver.get_by_role("button", name="Approve").click()
    approver.get_by_role("status").filter(has_text="decision recorded").wait_for()
    approver.context.close()
    status.filter(has_text="Approved").wait_for()

    # The engine pushes it: once, whatever the ERP.
    report = services.dispatch(connection=connection, connector=connector)
    assert (report.succeeded, report.failed) == (1, 0)
    order = PurchaseOrder.objects.get(customer_po_number=f"PO-{erp_side.kind.upper()}-1")
    sale = order.erp_reference
    assert sale
    if erp_side.release is not None:
        # An ERP whose API cannot confirm: the page says who must act, until its people release it.
        status.filter(has_text="Sent to ERP").wait_for()
        page.locator('[data-field="erp-release"]').wait_for()
        erp_side.release(_erp_id(connector, order))
        _pull(connection, connector, ORDER_STATES)
    status.filter(has_text="Accepted").wait_for()

    # The ERP's warehouse ships it, its accountants invoice it; the open page follows each step.
    erp_side.ship(_erp_id(connector, order))
    _pull(connection, connector, ORDER_STATES)
    status.filter(has_text="Shipped").wait_for()
    number = erp_side.invoice(_erp_id(connector, order))
    _pull(connection, connector, ORDER_STATES, INVOICES)
    # Invoiced; or closed where the ERP closes a fully invoiced order (Business Central deletes it).
    status.filter(has_text=re.compile("^(Invoiced|Closed)$")).wait_for()
    assert page.evaluate("window.__noReload") is True

    # The buyer sees the invoice, opens it: its lines came from the ERP; and reorders them.
    page.goto(f"{live_server.url}/invoices/")
    assert number in page.locator("main").inner_text()
    page.get_by_role("link", name=number).click()
    page.locator('#invoice-lines [data-sku="SKU-00002"]').wait_for()
    assert page.locator("#invoice-lines tbody tr").count() == 2
    page.get_by_role("button", name="Reorder these lines").click()
    page.wait_for_url(f"{live_server.url}/orders/draft/")
    report = page.locator("#add-report")
    assert report.get_attribute("data-added") == "2"
    assert report.get_attribute("data-refused") == "0"
    assert f"invoice {number}" in report.inner_text()
    connector.close()


def _erp_id(connector: Connector, order: PurchaseOrder) -> str:
    """The ERP id of the order's sale, as the order-state pull reads it."""
    from apps.erp.connectors.base import Cursor

    page = connector.pull_orders(Cursor(), 1000)
    (record,) = [r for r in page.records if r.reference == order.customer_po_number]
    return record.erp_id
