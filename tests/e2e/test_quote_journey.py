"""A negotiated quote in Chromium against the real Tryton: the buyer asks, the account manager offers,
the buyer counters, the manager offers again, the buyer accepts; the order goes through the company's
approval rule and the ERP accepts it. The buyer's quote page, open in its own browser, follows every
move of the other side (and the order's steps after the accept) without a reload."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.approvals.models import ApprovalRule
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound, services
from apps.erp.connectors.tryton import TrytonConnector
from apps.pricing.selectors import price_resolve_many
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes.models import Quote
from tests.accounts.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _below(price: Decimal, factor: str) -> Decimal:
    return (price * Decimal(factor)).quantize(Decimal("0.0001"))


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _offer(manager, base: str, quote: Quote, bolt: Decimal, nut: Decimal) -> None:  # type: ignore[no-untyped-def]
    manager.goto(f"{base}/quotes/{quote.pk}/")
    manager.get_by_label("Unit price of SKU-00001", exact=True).fill(str(bolt))
    manager.get_by_label("Unit price of SKU-00002", exact=True).fill(str(nut))
    manager.get_by_label("Break 1 quantity of SKU-00001").fill("100")
    manager.get_by_label("Break 1 unit price of SKU-00001").fill(str(bolt))
    manager.get_by_label("Valid until").fill((timezone.localdate() + timedelta(days=14)).isoformat())
    manager.get_by_role("button", name="Offer these prices").click()
    manager.get_by_role("status").filter(has_text="offered; the buyer is told").wait_for()


def _sales(erp_admin, *references: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """Acme's sales in the ERP under these references, oldest first."""
    party = erp_admin.model("party.party", "search_read", [["code", "=", "CUST-001"]], 0, 1, None, ["id"])[0]
    return list(
        erp_admin.model(
            "sale.sale",
            "search_read",
            [["reference", "in", list(references)], ["party", "=", party["id"]]],
            0,
            None,
            [["id", "ASC"]],
            ["reference", "state", "lines"],
        )
    )


def _unit_prices(erp_admin, sale: dict) -> list[Decimal]:  # type: ignore[no-untyped-def,type-arg]
    rows = erp_admin.model("sale.line", "read", sale["lines"], ["unit_price"])
    return sorted(Decimal(str(row["unit_price"])) for row in rows)


def test_a_quote_negotiated_in_two_rounds_becomes_an_order_the_erp_accepts(  # type: ignore[no-untyped-def]
    live_server, page, browser, erp_connection, erp_admin
) -> None:
    connector = TrytonConnector.for_connection(erp_connection)
    for stream in (CUSTOMERS, PRODUCTS):
        inbound.pull_stream(connection=erp_connection, stream=stream, connector=connector)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    manager_user = UserFactory(email="manager@wholesaler.example")
    staff_user_set_roles(user=manager_user, roles=[StaffRole.ACCOUNT_MANAGER])
    acme.account_manager = manager_user
    acme.save(update_fields=["account_manager"])
    MembershipFactory(company=acme, role=Role.BUYER, user=UserFactory(email="buyer@acme.example"))
    MembershipFactory(company=acme, role=Role.APPROVER, user=UserFactory(email="approver@acme.example"))
    ApprovalRule.objects.create(
        company=acme, name="Every order", condition="total_at_least", amount=1, approver_role=Role.APPROVER
    )
    base = live_server.url
    # Prices a little below what Acme pays today, within the discount an account manager may give alone.
    prices = price_resolve_many(
        account=acme,
        products=list(Product.objects.filter(sku__in=["SKU-00001", "SKU-00002"]).order_by("sku")),
        quantity={},
    )
    bolt_price, nut_price = (price.unit_price for price in prices.values())
    first_bolt, second_bolt = _below(bolt_price, "0.95"), _below(bolt_price, "0.90")
    nut = _below(nut_price, "0.95")

    # The buyer asks for prices on two catalog lines.
    _sign_in(page, base, "buyer@acme.example")
    page.goto(f"{base}/quotes/new/")
    page.get_by_label("Products and quantities").fill("SKU-00001 40\nSKU-00002 12")
    page.get_by_label("Message to your account manager").fill("For the spring run")
    page.get_by_role("button", name="Ask for a quote").click()
    page.wait_for_url(f"{base}/quotes/*/")
    quote = Quote.objects.get()
    status = page.locator('#live [data-field="status"]')
    turn = page.locator('#live [data-field="turn"]')
    assert status.inner_text() == "Submitted"
    assert "Waiting for your account manager." in turn.inner_text()
    page.evaluate("window.__noReload = true")

    # The account manager sees it in the queue, takes it up and offers.
    manager = browser.new_context().new_page()
    manager.set_default_timeout(15_000)
    _sign_in(manager, base, "manager@wholesaler.example")
    manager.goto(f"{base}/manager/quotes/")
    manager.locator(f'[data-quote="{quote.number}"]').get_by_role("link").click()
    manager.get_by_role("button", name="Take it up").click()
    status.filter(has_text="In review").wait_for()
    _offer(manager, base, quote, bolt=first_bolt, nut=nut)
    # The engine pushes the offer: the ERP keeps it as a quotation at the offered prices.
    assert services.dispatch(connection=erp_connection, connector=connector).succeeded == 1
    [quotation] = _sales(erp_admin, quote.number)
    assert quotation["state"] == "quotation"
    assert _unit_prices(erp_admin, quotation) == sorted([first_bolt, nut])

    # The buyer's page shows the offer and whose turn it is, without a reload; the buyer counters.
    status.filter(has_text="Offered").wait_for()
    turn.filter(has_text="Your turn").wait_for()
    page.locator('[data-version="1"]').wait_for()
    assert page.evaluate("window.__noReload") is True
    page.get_by_label("What would you like changed?").fill("9 for SKU-00001 and it is a deal")
    page.get_by_role("button", name="Send counter").click()
    page.get_by_role("status").filter(has_text="Your answer is sent").wait_for()
    assert status.inner_text() == "In review"
    page.evaluate("window.__noReload = true")

    # The manager offers again; the buyer's page follows and accepts version 2.
    _offer(manager, base, quote, bolt=second_bolt, nut=nut)
    assert services.dispatch(connection=erp_connection, connector=connector).succeeded == 1
    [same] = _sales(erp_admin, quote.number)
    assert same["id"] == quotation["id"]  # the second version replaced the lines of the same quotation
    assert _unit_prices(erp_admin, same) == sorted([second_bolt, nut])
    status.filter(has_text="Offered").wait_for()
    page.locator('[data-version="2"]').wait_for()
    assert page.evaluate("window.__noReload") is True
    assert str(second_bolt) in page.locator('[data-version="2"] [data-sku="SKU-00001"]').inner_text()
    page.get_by_label("Your PO number").fill("PO-QUOTE-1")
    page.get_by_label("Ship to").select_option(index=1)
    page.get_by_role("button", name="Accept and order").click()
    page.locator("#messages").get_by_role("status").filter(has_text="accepted: order PO-QUOTE-1").wait_for()
    order_status = page.locator('#live [data-field="order-status"]')
    assert order_status.inner_text() == "Awaiting approval"
    page.evaluate("window.__noReload = true")

    # The company's rule asks for an approval; the approver signs it off.
    approver = browser.new_context().new_page()
    approver.set_default_timeout(15_000)
    _sign_in(approver, base, "approver@acme.example")
    approver.goto(f"{base}/approvals/")
    approver.get_by_role("button", name="Approve").click()
    approver.get_by_role("status").filter(has_text="decision recorded").wait_for()
    approver.context.close()
    order_status.filter(has_text="Approved").wait_for()

    # The engine pushes it; the ERP confirms it at the agreed prices.
    report = services.dispatch(connection=erp_connection, connector=connector)
    connector.close()
    assert report.succeeded == 1
    order_status.filter(has_text="Accepted").wait_for()
    assert page.evaluate("window.__noReload") is True
    manager.context.close()

    order = PurchaseOrder.objects.get(customer_po_number="PO-QUOTE-1")
    assert order.status == PurchaseOrder.Status.ACCEPTED
    assert order.erp_reference
    assert sorted((line.product.sku, line.unit_price) for line in order.lines.select_related("product")) == [
        ("SKU-00001", second_bolt),
        ("SKU-00002", nut),
    ]
    assert PurchaseOrder.objects.exclude(status=PurchaseOrder.Status.DRAFT).count() == 1
    quote.refresh_from_db()
    assert (quote.status, quote.purchase_order_id, quote.versions.count()) == ("ordered", order.pk, 2)
    # One sale in the ERP: the quotation, taken over by the order, confirmed with the PO number.
    [sale] = _sales(erp_admin, quote.number, "PO-QUOTE-1")
    assert (sale["id"], sale["reference"], sale["state"]) == (quotation["id"], "PO-QUOTE-1", "processing")
