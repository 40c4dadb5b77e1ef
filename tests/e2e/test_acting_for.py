"""An account manager acts for a buyer in the browser: a reason is asked, the buyer's draft is fixed and
submitted under a banner, the history names both, and the company admin reads it in the company log."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.accounts.models import ActingSession, Role, StaffRole
from apps.approvals.models import ApprovalRule
from apps.purchase_orders import services as orders
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.e2e.acting_pages import (
    acting_banner,
    company_log_rows,
    open_acting_form,
    sign_in,
    start_acting,
    stop_acting,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_fixes_and_submits_a_buyers_draft_and_the_admin_sees_it_in_the_log(  # type: ignore[no-untyped-def]
    live_server, page, browser, staff_factory
) -> None:
    base = live_server.url
    manager = staff_factory(StaffRole.ACCOUNT_MANAGER, email="manager@wholesaler.example")
    company = CompanyFactory(name="Acme", account_manager=manager)
    buyer = MembershipFactory(
        company=company, role=Role.BUYER, user=UserFactory(email="buyer@acme.example")
    ).user
    MembershipFactory(company=company, role=Role.ADMIN, user=UserFactory(email="admin@acme.example"))
    MembershipFactory(company=company, role=Role.APPROVER)
    ShipToAddressFactory(company=company, label="Main dock", is_default=True)
    ProductFactory(sku="BOLT", name="Hex bolt", list_price=D("0.5000"))
    ProductFactory(sku="NUT", name="Hex nut", list_price=D("0.2500"))
    ApprovalRule.objects.create(
        company=company, name="Every order", condition="total_at_least", amount=1, approver_role=Role.APPROVER
    )
    # The buyer started a draft and got stuck: wrong quantity, a line too many, no PO number.
    draft = orders.purchase_order_draft_get(company=company, buyer=buyer)
    orders.purchase_order_lines_add(
        purchase_order=draft, lines=[ParsedLine(1, "BOLT", D("3"), ""), ParsedLine(2, "NUT", D("2"), "")]
    )

    # The manager starts acting: the reason is asked first.
    sign_in(page, base, "manager@wholesaler.example")
    open_acting_form(page, base, company.pk)
    page.get_by_role("button", name="Start acting").click()
    page.get_by_text("Say why you act for this buyer").first.wait_for()
    assert not ActingSession.objects.exists()
    start_acting(page, "buyer@acme.example", "Buyer phoned: fix the bolts and send it")
    page.get_by_role("heading", name="Draft order of buyer@acme.example").wait_for()
    banner = acting_banner(page)
    assert "buyer@acme.example" in banner.inner_text()
    assert "Buyer phoned: fix the bolts and send it" in banner.inner_text()

    # The manager fixes the buyer's own draft and submits it.
    page.get_by_label("Quantity of BOLT").fill("12")
    page.get_by_label("Quantity of BOLT").press("Tab")
    page.locator('[data-field="estimate"]', has_text="6.50 USD").wait_for()
    page.locator('#lines tr[data-sku="NUT"]').get_by_role("button", name="Remove").click()
    page.locator('[data-field="estimate"]', has_text="6.00 USD").wait_for()
    page.get_by_label("Your PO number").fill("PO-ACT-E2E")
    page.get_by_label("Ship to").select_option(index=1)
    page.get_by_role("button", name="Save details").click()
    page.get_by_role("status").filter(has_text="Order details saved.").wait_for()
    page.get_by_role("button", name="Submit order").click()
    page.wait_for_url(f"{base}/orders/*/")

    assert page.locator('#live [data-field="status"]').inner_text() == "Awaiting approval"
    assert "by manager manager@wholesaler.example for buyer buyer@acme.example" in page.content()
    assert acting_banner(page).is_visible()
    page.goto(f"{base}/catalog/")
    assert acting_banner(page).is_visible()
    order = PurchaseOrder.objects.get(customer_po_number="PO-ACT-E2E")
    assert order.pk == draft.pk
    assert (order.buyer, order.submitted_by) == (buyer, buyer)
    assert order.total_amount == D("6.00")

    stop_acting(page)
    assert not acting_banner(page).is_visible()
    assert "You stopped acting for buyer@acme.example." in page.content()

    # The company's admin reads the session in the company log and opens the order from it.
    admin = browser.new_context().new_page()
    admin.set_default_timeout(15_000)
    sign_in(admin, base, "admin@acme.example")
    admin.get_by_role("link", name="Company log").click()
    rows = company_log_rows(admin, base)
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "manager@wholesaler.example" in row
    assert "buyer@acme.example" in row
    assert "Buyer phoned: fix the bolts and send it" in row
    assert "Stopped by the manager" in row
    assert "Submitted the order" in row
    assert "Changed or removed a line" in row
    rows.first.get_by_role("link", name="PO-ACT-E2E").first.click()
    admin.wait_for_url(f"{base}/orders/{order.pk}/")
    assert "for buyer buyer@acme.example" in admin.content()
    admin.context.close()
