"""Issue 15's journey in Chromium, end to end: a buyer builds a list shared with the company from an
invoice; a colleague sends it to a draft with one line refused and told why; the account manager, acting
for that colleague, fixes the draft and submits it; the company's admin sees it in the company log."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import ActingSession, Role, StaffRole
from apps.catalog.models import Product
from apps.order_lists.models import OrderList
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderStatusChange
from tests.accounts.factories import MembershipFactory, ShipToAddressFactory, UserFactory
from tests.e2e.acting_pages import (
    acting_banner,
    company_log_rows,
    open_acting_form,
    start_acting,
    stop_acting,
)
from tests.e2e.test_order_list_journey import (
    add_invoice_lines,
    create_list,
    list_world,
    send_list_to_draft,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_list_from_an_invoice_a_refused_line_and_a_manager_acting_to_finish_the_order(  # type: ignore[no-untyped-def]
    live_server, page, browser, staff_factory
) -> None:
    base = live_server.url
    world = list_world()
    manager = staff_factory(StaffRole.ACCOUNT_MANAGER, email="manager@wholesaler.example")
    world.company.account_manager = manager
    world.company.save(update_fields=["account_manager"])
    MembershipFactory(company=world.company, role=Role.ADMIN, user=UserFactory(email="admin@acme.example"))
    ShipToAddressFactory(company=world.company, label="Main dock", is_default=True)

    # Ann keeps her last invoice's lines in a list shared with the company.
    sign_in(page, base, world.owner_email)
    create_list(page, base, "Weekly restock")
    add_invoice_lines(page, world.invoice)
    assert "3 line(s) added to Weekly restock" in page.locator("#messages").inner_text()
    assert OrderList.objects.get(name="Weekly restock").visibility == OrderList.Visibility.COMPANY

    # The split pin is withdrawn; Ben sends the list to his draft and is told why it was left out.
    Product.objects.filter(pk=world.products["PIN"].pk).update(is_active=False)
    colleague = browser.new_context().new_page()
    colleague.set_default_timeout(15_000)
    sign_in(colleague, base, world.colleague_email)
    send_list_to_draft(colleague, base, "Weekly restock")
    report = colleague.locator("#add-report")
    assert (report.get_attribute("data-added"), report.get_attribute("data-refused")) == ("2", "1")
    assert "PIN-4: no longer sold." in report.locator('tr[data-kind="no longer sold"]').inner_text()
    colleague.context.close()

    # Ben phones his account manager, who acts for him: a reason first, then Ben's own draft.
    manager_page = browser.new_context().new_page()
    manager_page.set_default_timeout(15_000)
    sign_in(manager_page, base, "manager@wholesaler.example")
    open_acting_form(manager_page, base, world.company.pk)
    start_acting(manager_page, world.colleague_email, "Ben phoned: more nuts, then send it")
    manager_page.get_by_role("heading", name=f"Draft order of {world.colleague_email}").wait_for()
    assert world.colleague_email in acting_banner(manager_page).inner_text()
    manager_page.get_by_label("Quantity of NUT-M8").fill("25")
    manager_page.get_by_label("Quantity of NUT-M8").press("Tab")
    manager_page.locator('#lines tr[data-sku="NUT-M8"] input[value="25"]').wait_for()
    manager_page.get_by_label("Your PO number").fill("PO-WEEKLY-1")
    manager_page.get_by_label("Ship to").select_option(index=1)
    manager_page.get_by_role("button", name="Save details").click()
    manager_page.get_by_role("status").filter(has_text="Order details saved.").wait_for()
    manager_page.get_by_role("button", name="Submit order").click()
    manager_page.wait_for_url(f"{base}/orders/*/")
    assert (
        f"by manager manager@wholesaler.example for buyer {world.colleague_email}" in manager_page.content()
    )
    stop_acting(manager_page)
    manager_page.context.close()

    order = PurchaseOrder.objects.get(customer_po_number="PO-WEEKLY-1")
    assert order.buyer.email == world.colleague_email
    assert sorted((line.product.sku, line.quantity) for line in order.lines.select_related("product")) == [
        ("BOLT-M8", Decimal("4")),
        ("NUT-M8", Decimal("25")),
    ]
    submitted = PurchaseOrderStatusChange.objects.get(purchase_order=order, to_status="submitted")
    assert (submitted.actor, submitted.on_behalf_of.email) == (manager, world.colleague_email)
    assert ActingSession.objects.get().ended_at is not None

    # The company's admin sees the session, its reason and what was done, in the company log.
    admin = browser.new_context().new_page()
    admin.set_default_timeout(15_000)
    sign_in(admin, base, "admin@acme.example")
    rows = company_log_rows(admin, base)
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "manager@wholesaler.example" in row
    assert world.colleague_email in row
    assert "Ben phoned: more nuts, then send it" in row
    assert "Submitted the order" in row
    admin.context.close()
