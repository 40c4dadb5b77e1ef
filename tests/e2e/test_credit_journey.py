from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role, StaffRole
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.core.money import quantize_amount
from apps.credit.models import CreditHold
from apps.erp import inbound, services
from apps.erp.connectors.tryton import TrytonConnector
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import PASSWORD, MembershipFactory, UserFactory
from tools.tryton import erp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PO = "PO-E2E-CREDIT"
SKU = "SKU-00002"


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_order_over_the_credit_limit_is_released_by_finance_and_confirmed_by_the_erp_without_reload(  # type: ignore[no-untyped-def]
    live_server, page, browser, erp_connection, erp_server, erp_admin, staff_factory, mailoutbox
) -> None:
    connector = TrytonConnector.for_connection(
        erp_connection, finance_username=erp.ERP_FINANCE_USER, finance_password=erp_server.password
    )
    for stream in (CUSTOMERS, PRODUCTS):
        inbound.pull_stream(connection=erp_connection, stream=stream, connector=connector)
    harbor = Company.objects.get(erp_customer_code="CUST-003")  # credit limit 10,000 in the ERP
    MembershipFactory(company=harbor, role=Role.BUYER, user=UserFactory(email="buyer@harborpoint.example"))
    staff_factory(StaffRole.FINANCE, email="finance@wholesaler.example")
    price = Product.objects.get(sku=SKU).list_price
    quantity = (Decimal(12_000) / price).to_integral_value(rounding=ROUND_CEILING)
    total = quantize_amount(quantity * price, "USD")

    # The buyer builds an order worth about 12,000: the credit meter says it passes the limit.
    _sign_in(page, live_server.url, "buyer@harborpoint.example")
    page.goto(f"{live_server.url}/orders/draft/")
    page.get_by_label("Quick order").fill(f"{SKU} {quantity}")
    page.get_by_role("button", name="Add lines").click()
    page.locator(f'#lines [data-sku="{SKU}"]').wait_for()
    meter = page.locator("#credit-meter")
    assert meter.get_attribute("data-level") == "over"
    assert meter.locator('[data-field="credit-warning"]').inner_text() == (
        f"This order would take your account {total - Decimal('10000.00')} USD over its credit limit. "
        "You can still submit it: it then waits for our finance team's review before it goes to the "
        "warehouse."
    )
    page.get_by_label("Your PO number").fill(PO)
    page.get_by_label("Ship to").select_option(index=1)
    page.get_by_role("button", name="Save details").click()
    page.get_by_role("status").filter(has_text="Order details saved.").wait_for()
    page.get_by_role("button", name="Submit order").click()
    page.wait_for_url(f"{live_server.url}/orders/*/")
    status = page.locator('#live [data-field="status"]')
    assert status.inner_text() == "Credit hold"
    banner = page.locator('#live [data-field="credit-hold"]').inner_text()
    assert banner.startswith(
        f"On credit hold: this order ({total} USD) would take the account over its credit limit of "
        f"10000.00 USD by {total - Decimal('10000.00')} USD (already used 0.00)."
    )
    page.evaluate("window.__noReload = true")

    # Finance sees it in the queue with the customer's exposure, and releases it with a reason.
    finance = browser.new_context().new_page()
    finance.set_default_timeout(15_000)
    _sign_in(finance, live_server.url, "finance@wholesaler.example")
    finance.goto(f"{live_server.url}/finance/holds/")
    row = finance.locator(f'#hold-queue tr[data-po="{PO}"]')
    cells = row.locator("td")
    assert cells.nth(2).inner_text() == "Harbor Point Builders Inc."
    assert cells.nth(3).inner_text() == f"{total} USD"
    assert cells.nth(4).inner_text().startswith("Over the credit limit")
    assert cells.nth(5).inner_text() == "10000.00"
    assert cells.nth(6).inner_text() == f"{total}"  # exposure: this order is the only one in the flow
    assert cells.nth(7).inner_text() == f"{Decimal('10000.00') - total}"
    finance.get_by_label(f"Reason for order {PO}").fill("Customer in good standing; one-off overrun accepted")
    row.get_by_role("button", name="Release", exact=True).click()
    row.wait_for(state="detached")
    assert finance.locator('#hold-queue [data-field="open-count"]').inner_text() == "0"
    assert finance.locator(f'#decisions [data-po="{PO}"]').inner_text().startswith("Released:")
    finance.context.close()

    # The outbox goes out with the finance user: the ERP accepts its credit warning for this sale.
    report = services.dispatch(connection=erp_connection, connector=connector)
    connector.close()
    assert (report.succeeded, report.failed) == (1, 0)

    status.filter(has_text="Accepted").wait_for(timeout=15_000)
    assert page.evaluate("window.__noReload") is True
    assert (
        page.locator('#live [data-field="credit-hold"]')
        .inner_text()
        .endswith(": Customer in good standing; one-off overrun accepted")
    )
    order = PurchaseOrder.objects.get(customer_po_number=PO)
    assert order.status == PurchaseOrder.Status.ACCEPTED
    assert order.total_amount == total
    assert CreditHold.objects.get(purchase_order=order).status == CreditHold.Status.RELEASED
    assert order.erp_reference in page.locator('#live [data-field="erp"]').inner_text()
    (party,) = erp_admin.model("party.party", "search", [["code", "=", "CUST-003"]], 0, 1, None)
    (sale,) = erp_admin.model(
        "sale.sale", "search_read", [["reference", "=", PO]], 0, None, None, ["state", "party", "number"]
    )
    assert sale["state"] in ("confirmed", "processing")
    assert (sale["party"], sale["number"]) == (party, order.erp_reference)

    released = [mail for mail in mailoutbox if mail.subject == f"Order {PO} was released by finance"]
    assert [mail.to for mail in released] == [["buyer@harborpoint.example"]]
    assert "Customer in good standing; one-off overrun accepted" in released[0].body
