"""Order lists in Chromium: a buyer builds a list shared with the company from an invoice's lines; a
colleague sends it to their draft and is told, line by line, what could not be added and why.

The helpers are meant for longer journeys built on this one (acting for a customer starts from the
colleague's draft)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from apps.accounts.models import Company, Role
from apps.catalog.models import Product
from apps.credit.models import Invoice, InvoiceLine
from apps.order_lists.models import OrderList
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import PASSWORD, CompanyFactory, MembershipFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.credit.factories import InvoiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@dataclass
class ListWorld:
    company: Company
    owner_email: str
    colleague_email: str
    past_order: PurchaseOrder
    invoice: Invoice
    products: dict[str, Product]


def list_world(
    *, owner_email: str = "ann@acme.example", colleague_email: str = "ben@acme.example"
) -> ListWorld:
    """A company with two buyers, a past order of the first (4 BOLT, 10 NUT, 2 PIN) and its invoice, whose
    lines are those three and a freight line that names no product."""
    company = CompanyFactory(name="Acme Hardware Co.")
    owner = MembershipFactory(
        company=company,
        role=Role.BUYER,
        user=UserFactory(email=owner_email, first_name="Ann", last_name="Owner"),
    ).user
    MembershipFactory(
        company=company,
        role=Role.BUYER,
        user=UserFactory(email=colleague_email, first_name="Ben", last_name="Colleague"),
    )
    products = {
        "BOLT": ProductFactory(sku="BOLT-M8", name="Hex bolt M8", list_price=Decimal("2.0000")),
        "NUT": ProductFactory(sku="NUT-M8", name="Nut M8", list_price=Decimal("0.5000")),
        "PIN": ProductFactory(sku="PIN-4", name="Split pin", list_price=Decimal("0.1000")),
    }
    order = PurchaseOrder.objects.create(
        company=company,
        buyer=owner,
        customer_po_number="PO-OLD-1",
        status=PurchaseOrder.Status.CLOSED,
    )
    for key, quantity in (("BOLT", 4), ("NUT", 10), ("PIN", 2)):
        PurchaseOrderLine.objects.create(purchase_order=order, product=products[key], quantity=quantity)
    invoice = InvoiceFactory(company=company, number="INV-2026-0042", state=Invoice.State.PAID)
    invoice.purchase_orders.add(order)
    lines = [(products["BOLT"], 4), (products["NUT"], 10), (products["PIN"], 2), (None, 1)]
    for position, (product, quantity) in enumerate(lines, start=1):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            product=product,
            sku=product.sku if product else "",
            description=product.name if product else "Freight",
            quantity=quantity,
            unit_price=Decimal("1.0000"),
            amount=Decimal(quantity),
        )
    return ListWorld(company, owner_email, colleague_email, order, invoice, products)


def create_list(page, base: str, name: str, *, shared: bool = True, editable: bool = False) -> None:  # type: ignore[no-untyped-def]
    """From the Order lists page (through the menu), create a list; the browser lands on it."""
    page.goto(f"{base}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Order lists").click()
    page.get_by_label("List name").fill(name)
    page.get_by_label("Who sees it").select_option("company" if shared else "private")
    if editable:
        page.get_by_label("Colleagues may change its lines").check()
    page.get_by_role("button", name="Create list").click()
    page.get_by_role("status").filter(has_text=f"List {name} created.").wait_for()


def add_invoice_lines(page, invoice: Invoice) -> None:  # type: ignore[no-untyped-def]
    """On a list's page, add the lines of one of the company's invoices."""
    page.get_by_role("button", name=f"Add the lines of invoice {invoice.number}").click()
    page.wait_for_load_state()


def keep_order_as_shared_list(
    page, base: str, order: PurchaseOrder, name: str, *, editable: bool = False
) -> None:  # type: ignore[no-untyped-def]
    """On the order's page, keep its lines in a new list, then share that list with the company."""
    page.goto(f"{base}/orders/{order.pk}/")
    page.get_by_text("Keep these lines in an order list").click()
    page.get_by_label("New list name").fill(name)
    page.get_by_role("button", name="Add to the list").click()
    page.wait_for_url(f"{base}/lists/*/")
    page.get_by_label("Who sees it").select_option("company")
    if editable:
        page.get_by_label("Colleagues may change its lines").check()
    page.get_by_role("button", name="Save settings").click()
    page.get_by_role("status").filter(has_text="List settings saved.").wait_for()


def send_list_to_draft(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """From the Order lists page, open the list and send all of it to the draft; the report is shown."""
    page.goto(f"{base}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Order lists").click()
    page.get_by_role("link", name=name).click()
    page.get_by_role("button", name="Send the whole list to my draft").click()
    page.locator("#add-report").wait_for()


def test_a_colleague_sends_a_shared_list_to_a_draft_and_is_told_why_a_line_was_refused(  # type: ignore[no-untyped-def]
    live_server, page, browser
) -> None:
    world = list_world()
    base = live_server.url

    # Ann builds a list shared with the company from her last invoice; its freight line is reported.
    sign_in(page, base, world.owner_email)
    create_list(page, base, "Weekly restock")
    add_invoice_lines(page, world.invoice)
    messages = page.locator("#messages").inner_text()
    assert "3 line(s) added to Weekly restock" in messages
    assert "“Freight” names no product" in messages
    sharing = page.locator('[data-field="sharing"]').inner_text()
    assert "shared with the company, read-only for colleagues" in sharing
    assert page.locator("#lines tbody tr").count() == 3
    order_list = OrderList.objects.get(name="Weekly restock")
    assert order_list.visibility == OrderList.Visibility.COMPANY

    # Meanwhile the split pin is withdrawn and the bolt's price goes up.
    pin, bolt = world.products["PIN"], world.products["BOLT"]
    Product.objects.filter(pk=pin.pk).update(is_active=False)
    Product.objects.filter(pk=bolt.pk).update(list_price=Decimal("2.2000"))

    # Ben sees the list read-only, the withdrawn line flagged, and sends it to his draft.
    colleague = browser.new_context().new_page()
    colleague.set_default_timeout(15_000)
    sign_in(colleague, base, world.colleague_email)
    colleague.goto(f"{base}/lists/{order_list.pk}/")
    assert "This list is read-only for you." in colleague.locator("main").inner_text()
    assert (
        "Cannot be ordered now: no longer sold" in colleague.locator('#lines [data-sku="PIN-4"]').inner_text()
    )
    send_list_to_draft(colleague, base, "Weekly restock")

    report = colleague.locator("#add-report")
    assert report.get_attribute("data-added") == "2"
    assert report.get_attribute("data-refused") == "1"
    refused = report.locator('tr[data-kind="no longer sold"]')
    assert "PIN-4: no longer sold." in refused.inner_text()
    assert "Not added" in refused.inner_text()
    bolt_row = report.locator("tr", has_text="BOLT-M8").inner_text()
    assert "2.2000" in bolt_row
    assert "2.0000" in bolt_row
    colleague.get_by_role("link", name="Open my draft").click()
    colleague.locator('#lines [data-sku="NUT-M8"]').wait_for()
    assert colleague.locator('#lines [data-sku="PIN-4"]').count() == 0
    draft = PurchaseOrder.objects.get(buyer__email=world.colleague_email, status=PurchaseOrder.Status.DRAFT)
    assert sorted(line.product.sku for line in draft.lines.select_related("product")) == ["BOLT-M8", "NUT-M8"]
    colleague.context.close()


def test_a_past_order_kept_as_an_editable_list_a_colleague_changes(  # type: ignore[no-untyped-def]
    live_server, page, browser
) -> None:
    world = list_world()
    base = live_server.url
    sign_in(page, base, world.owner_email)
    keep_order_as_shared_list(page, base, world.past_order, "From PO-OLD-1", editable=True)
    order_list = OrderList.objects.get(name="From PO-OLD-1")
    assert order_list.colleagues_can_edit

    colleague = browser.new_context().new_page()
    colleague.set_default_timeout(15_000)
    sign_in(colleague, base, world.colleague_email)
    colleague.goto(f"{base}/lists/{order_list.pk}/")
    colleague.get_by_label("Quantity of NUT-M8").fill("0")
    colleague.locator('#lines [data-sku="NUT-M8"]').get_by_role("button", name="Save").click()
    colleague.get_by_role("alert").or_(colleague.locator("#messages")).filter(
        has_text="must be more than zero"
    ).first.wait_for()
    assert order_list.lines.get(product__sku="NUT-M8").default_quantity == 10
    colleague.get_by_label("Quantity of NUT-M8").fill("20")
    colleague.get_by_label("Note for NUT-M8").fill("bin 4")
    colleague.locator('#lines [data-sku="NUT-M8"]').get_by_role("button", name="Save").click()
    colleague.locator("#messages").filter(has_text="NUT-M8 saved.").wait_for()
    line = order_list.lines.get(product__sku="NUT-M8")
    assert (line.default_quantity, line.note) == (20, "bin 4")
    assert colleague.get_by_role("button", name="Save settings").count() == 0  # only the owner
    colleague.context.close()
