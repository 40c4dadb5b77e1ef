"""Reorder from a past order and from an invoice: every line through the checked engine, the per-line
report shown on the draft (once), another company's order or invoice a 404, viewers refused."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import Membership, Role
from apps.catalog.models import Product, StockLevel
from apps.credit.models import Invoice
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import CompanyFactory, MembershipFactory
from tests.catalog.factories import ProductFactory

D = Decimal
Status = PurchaseOrder.Status
WHEN = datetime.fromisoformat("2026-12-07T08:00:00+00:00")


@pytest.fixture
def buyer(db: None) -> Membership:
    return MembershipFactory(role=Role.BUYER)


def _client(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def _past_order(member: Membership, *lines: tuple[Product, str, str | None]) -> PurchaseOrder:
    order = PurchaseOrder.objects.create(
        company=member.company,
        buyer=member.user,
        customer_po_number=f"PO-{PurchaseOrder.objects.count() + 1}",
        status=Status.CLOSED,
    )
    for product, quantity, price in lines:
        order.lines.create(product=product, quantity=D(quantity), unit_price=D(price) if price else None)
    return order


def _draft_lines(member: Membership) -> list[tuple[str, Decimal]]:
    return [
        (line.product.sku, line.quantity)
        for line in PurchaseOrderLine.objects.filter(
            purchase_order__buyer=member.user, purchase_order__status=Status.DRAFT
        ).select_related("product")
    ]


def test_reorder_from_an_order_says_what_changed_and_adds_the_rest(buyer: Membership) -> None:
    bolt = ProductFactory(sku="BOLT", list_price=D("0.5000"))
    StockLevel.objects.create(product=bolt, quantity=D("7"), as_of=WHEN)
    old = ProductFactory(sku="OLD")
    pipe = ProductFactory(sku="PIPE")
    order = _past_order(buyer, (bolt, "20", "0.4000"), (old, "1", "3.0000"), (pipe, "4", "1.0000"))
    Product.objects.filter(pk=old.pk).update(is_active=False)
    Product.objects.filter(pk=pipe.pk).update(order_minimum=D("10"), order_increment=D("10"))
    client = _client(buyer)

    response = client.post(f"/orders/{order.pk}/reorder/")
    page = client.get(response["Location"]).content.decode()
    again = client.get("/orders/draft/").content.decode()

    assert response["Location"] == "/orders/draft/"
    assert _draft_lines(buyer) == [("BOLT", D("20"))]
    assert "1 line(s) added, 0 merged into lines already on your draft, 2 refused; see why below." in page
    assert 'data-line="1" data-kind="added"' in page
    assert "price up from 0.4000 to 0.5000 USD" in page
    assert "+25.0%" in page
    assert "short of the quantity" in page  # 7 in stock, 20 wanted
    assert 'data-line="2" data-kind="no longer sold"' in page
    assert "OLD: no longer sold." in page
    assert 'data-line="3" data-kind="ordering rules"' in page
    assert "PIPE: order at least 10 (asked 4); 10 would do." in page
    assert 'id="add-report"' not in again  # shown once: a reload adds and shows nothing again


def test_reorder_of_another_companys_order_is_404_and_changes_nothing(buyer: Membership) -> None:
    stranger = MembershipFactory(company=CompanyFactory(), role=Role.BUYER)
    order = _past_order(stranger, (ProductFactory(sku="BOLT"), "2", "1.0000"))

    response = _client(buyer).post(f"/orders/{order.pk}/reorder/")

    assert response.status_code == 404
    assert not PurchaseOrder.objects.filter(buyer=buyer.user).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER])
def test_viewers_and_approvers_cannot_reorder_nor_see_the_button(db: None, role: Role) -> None:
    member = MembershipFactory(role=role)
    order = _past_order(member, (ProductFactory(sku="BOLT"), "2", "1.0000"))
    client = _client(member)

    detail = client.get(f"/orders/{order.pk}/").content.decode()
    response = client.post(f"/orders/{order.pk}/reorder/")

    assert 'data-action="reorder"' not in detail
    assert response.status_code == 403
    assert not PurchaseOrder.objects.filter(buyer=member.user, status=Status.DRAFT).exists()


def test_a_draft_is_not_reordered_into_itself(buyer: Membership) -> None:
    draft = PurchaseOrder.objects.create(company=buyer.company, buyer=buyer.user)
    draft.lines.create(product=ProductFactory(sku="BOLT"), quantity=D("2"))

    _client(buyer).post(f"/orders/{draft.pk}/reorder/")

    assert _draft_lines(buyer) == [("BOLT", D("2"))]


def test_a_fifty_line_reorder_takes_a_bounded_number_of_queries(
    buyer: Membership, django_assert_max_num_queries: Any
) -> None:
    products = [ProductFactory(sku=f"P-{n:03d}") for n in range(50)]
    order = _past_order(buyer, *((product, "2", "9.9900") for product in products))
    client = _client(buyer)
    client.get("/orders/draft/")  # the draft exists, the session is warm

    with django_assert_max_num_queries(30):
        client.post(f"/orders/{order.pk}/reorder/")

    assert len(_draft_lines(buyer)) == 50


def _invoice(member: Membership, *lines: tuple[str, str, str, str]) -> Invoice:
    invoice = Invoice.objects.create(
        company=member.company,
        erp_id=f"inv-{Invoice.objects.count()}",
        number="INV/1",
        total_amount=1,
        state="posted",
    )
    for position, (sku, description, quantity, price) in enumerate(lines, start=1):
        invoice.lines.create(
            position=position,
            product=Product.objects.filter(sku=sku).first(),
            sku=sku,
            description=description,
            quantity=D(quantity),
            unit_price=D(price),
            amount=D(quantity) * D(price),
        )
    return invoice


def test_the_invoice_page_shows_its_lines_and_the_reorder_button_to_buyers(buyer: Membership) -> None:
    ProductFactory(sku="BOLT")
    invoice = _invoice(buyer, ("BOLT", "Hex bolt", "10", "0.5000"), ("", "Freight", "1", "15.0000"))
    viewer = MembershipFactory(company=buyer.company, role=Role.VIEWER)

    page = _client(buyer).get(f"/invoices/{invoice.pk}/").content.decode()
    seen_by_viewer = _client(viewer).get(f"/invoices/{invoice.pk}/").content.decode()
    listed = _client(buyer).get("/invoices/").content.decode()

    assert 'data-position="1" data-sku="BOLT"' in page
    assert "Hex bolt" in page
    assert "Freight" in page
    assert 'data-action="reorder"' in page
    assert 'data-action="reorder"' not in seen_by_viewer
    assert f'href="/invoices/{invoice.pk}/"' in listed
    # Buyers may keep the lines in an order list; viewers keep no lists.
    assert f'action="/lists/add/invoice/{invoice.pk}/"' in page
    assert 'id="keep-in-list"' not in seen_by_viewer


def test_reorder_from_an_invoice_matches_by_sku_and_refuses_lines_without_one(buyer: Membership) -> None:
    ProductFactory(sku="BOLT", list_price=D("0.5000"))
    invoice = _invoice(
        buyer,
        ("bolt", "Hex bolt", "10", "0.4500"),
        ("", "Freight", "1", "15.0000"),
        ("GONE-7", "Withdrawn part", "2", "1.0000"),
    )
    client = _client(buyer)

    response = client.post(f"/invoices/{invoice.pk}/reorder/")
    page = client.get(response["Location"]).content.decode()

    assert _draft_lines(buyer) == [("BOLT", D("10"))]
    assert 'data-line="1" data-kind="added"' in page
    assert "invoice INV/1" in page
    assert 'data-line="2" data-kind="no product"' in page
    assert "“Freight” names no product" in page
    assert 'data-line="3" data-kind="not in the catalog"' in page
    assert "GONE-7: no such product in the catalog" in page


def test_reorder_from_another_companys_invoice_is_404_and_viewers_get_403(buyer: Membership) -> None:
    ProductFactory(sku="BOLT")
    stranger = MembershipFactory(company=CompanyFactory(), role=Role.BUYER)
    foreign = _invoice(stranger, ("BOLT", "Hex bolt", "1", "1.0000"))
    own = _invoice(buyer, ("BOLT", "Hex bolt", "1", "1.0000"))
    viewer = MembershipFactory(company=buyer.company, role=Role.VIEWER)

    assert _client(buyer).post(f"/invoices/{foreign.pk}/reorder/").status_code == 404
    assert _client(buyer).get(f"/invoices/{foreign.pk}/").status_code == 404
    assert _client(viewer).post(f"/invoices/{own.pk}/reorder/").status_code == 403
    assert not PurchaseOrder.objects.filter(status=Status.DRAFT).exists()
