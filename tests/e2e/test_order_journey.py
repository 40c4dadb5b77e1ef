from __future__ import annotations

import pytest

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.approvals.models import ApprovalRule
from apps.catalog.erp import PRODUCTS
from apps.erp import inbound, services
from apps.erp.connectors.tryton import TrytonConnector
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_csv_order_approved_then_confirmed_by_the_erp_shows_accepted_without_reload(  # type: ignore[no-untyped-def]
    live_server, page, browser, erp_connection, erp_admin, tmp_path
) -> None:
    connector = TrytonConnector.for_connection(erp_connection)
    for stream in (CUSTOMERS, PRODUCTS):
        inbound.pull_stream(connection=erp_connection, stream=stream, connector=connector)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    MembershipFactory(company=acme, role=Role.BUYER, user=UserFactory(email="buyer@acme.example"))
    MembershipFactory(company=acme, role=Role.APPROVER, user=UserFactory(email="approver@acme.example"))
    ApprovalRule.objects.create(
        company=acme, name="Every order", condition="total_at_least", amount=1, approver_role=Role.APPROVER
    )
    csv_file = tmp_path / "order.csv"
    csv_file.write_text(
        "SKU;Quantity;Note\r\nSKU-00001;5;\r\nSKU-00002;2;rush\r\nSKU-99999;1;\r\n", encoding="utf-8"
    )

    # The buyer builds the order from a CSV file and submits it.
    _sign_in(page, live_server.url, "buyer@acme.example")
    page.goto(f"{live_server.url}/orders/draft/")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload").click()
    page.locator('#lines [data-sku="SKU-00002"]').wait_for()
    assert "SKU-99999: unknown SKU" in page.locator("#lines").inner_text()
    page.get_by_label("Your PO number").fill("PO-E2E-1")
    page.get_by_label("Ship to").select_option(index=1)
    page.get_by_role("button", name="Save details").click()
    page.get_by_role("status").filter(has_text="Order details saved.").wait_for()
    page.get_by_role("button", name="Submit order").click()
    page.wait_for_url(f"{live_server.url}/orders/*/")
    status = page.locator('#live [data-field="status"]')
    assert status.inner_text() == "Awaiting approval"
    page.evaluate("window.__noReload = true")

    # The approver signs it off from the queue.
    approver = browser.new_context().new_page()
    approver.set_default_timeout(15_000)
    _sign_in(approver, live_server.url, "approver@acme.example")
    approver.goto(f"{live_server.url}/approvals/")
    approver.get_by_role("button", name="Approve").click()
    approver.get_by_role("status").filter(has_text="decision recorded").wait_for()
    approver.context.close()
    status.filter(has_text="Approved").wait_for(timeout=15_000)

    # The sync engine pushes it; the ERP confirms it.
    report = services.dispatch(connection=erp_connection, connector=connector)
    connector.close()
    assert report.succeeded == 1

    status.filter(has_text="Accepted").wait_for(timeout=15_000)
    assert page.evaluate("window.__noReload") is True
    order = PurchaseOrder.objects.get(customer_po_number="PO-E2E-1")
    assert order.status == PurchaseOrder.Status.ACCEPTED
    assert order.erp_reference in page.locator('#live [data-field="erp"]').inner_text()
