"""draft_lines_add_checked: every wanted line answered in order, a refused line changes nothing, the good
ones are added to the buyer's draft with today's price, the price then and the stock as of now."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.template.loader import render_to_string

from apps.accounts.models import Company, Membership, Role
from apps.catalog.models import StockLevel
from apps.purchase_orders import adding
from apps.purchase_orders.adding import WantedLine, draft_lines_add_checked
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import MembershipFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import ContractPriceFactory

D = Decimal
WHEN = datetime.fromisoformat("2026-12-07T08:00:00+00:00")


@pytest.fixture
def buyer(db: None) -> Membership:
    return MembershipFactory(role=Role.BUYER)


def _lines(buyer: Membership) -> list[tuple[str, Decimal, str]]:
    return [
        (line.product.sku, line.quantity, line.note)
        for line in PurchaseOrderLine.objects.filter(
            purchase_order__buyer=buyer.user, purchase_order__status=PurchaseOrder.Status.DRAFT
        ).select_related("product")
    ]


def _add(buyer: Membership, lines: list[WantedLine]) -> adding.AddReport:
    return draft_lines_add_checked(company=buyer.company, buyer=buyer.user, lines=lines)


def test_good_lines_are_added_with_todays_price_the_price_then_and_the_stock(buyer: Membership) -> None:
    bolt = ProductFactory(sku="BOLT", list_price=D("0.5000"))
    nut = ProductFactory(sku="NUT", list_price=D("0.2000"))
    StockLevel.objects.create(product=bolt, quantity=D("12"), as_of=WHEN)
    ContractPriceFactory(company=buyer.company, product=nut, unit_price=D("0.1500"))

    report = _add(
        buyer,
        [
            WantedLine(bolt, "BOLT", D("20"), "dock 4", price_then=D("0.4000"), source="order PO-1"),
            WantedLine(None, "nut", D("5"), price_then=D("0.1500")),
        ],
    )

    assert _lines(buyer) == [("BOLT", D("20"), "dock 4"), ("NUT", D("5"), "")]
    first, second = report.lines
    assert (first.ok, first.kind, first.unit_price, first.price_then) == (
        True,
        "added",
        D("0.5000"),
        D("0.4000"),
    )
    assert (first.price_change, first.price_change_percent) == (D("0.1000"), D("25.0"))
    assert "price up from 0.4000 to 0.5000 USD" in first.message
    assert (first.stock, first.stock_as_of, first.short_of_stock, first.source) == (
        D("12"),
        WHEN,
        True,
        "order PO-1",
    )
    assert (second.sku, second.unit_price, second.changes, second.stock) == ("NUT", D("0.1500"), (), None)
    assert report.purchase_order is not None
    assert report.summary == "2 line(s) added, 0 merged into lines already on your draft."


def _rules_product() -> Any:
    return ProductFactory(
        sku="PIPE", order_minimum=D("10"), order_increment=D("5"), order_maximum=D("40"), list_price=D("2")
    )


@pytest.mark.parametrize(
    ("make", "kind", "message"),
    [
        (
            lambda: WantedLine(None, "", D("1"), description="Freight"),
            adding.NO_PRODUCT,
            "“Freight” names no product",
        ),
        (
            lambda: WantedLine(None, "GONE-1", D("1")),
            adding.UNKNOWN,
            "GONE-1: no such product in the catalog",
        ),
        (
            lambda: WantedLine(ProductFactory(sku="OLD", is_active=False), "OLD", D("1")),
            adding.INACTIVE,
            "OLD: no longer sold.",
        ),
        (
            lambda: WantedLine(ProductFactory(sku="FREE", list_price=D("0")), "FREE", D("1")),
            adding.NOT_ORDERABLE,
            "FREE: has no price for",
        ),
        (
            lambda: WantedLine(None, "BOLT", D("-2")),
            adding.QUANTITY,
            "BOLT: quantity -2 must be more than zero.",
        ),
        (lambda: WantedLine(None, "BOLT", D("1.00001")), adding.QUANTITY, "more than 4 decimals"),
        (
            lambda: WantedLine(_rules_product(), "PIPE", D("7")),
            adding.RULES,
            "PIPE: order at least 10 (asked 7); 10 would do.",
        ),
        (
            lambda: WantedLine(_rules_product(), "PIPE", D("17")),
            adding.RULES,
            "PIPE: order in steps of 5 from 10 (asked 17); 15 or 20 would do.",
        ),
        (
            lambda: WantedLine(_rules_product(), "PIPE", D("44")),
            adding.RULES,
            "PIPE: order at most 40 (asked 44); 40 would do.",
        ),
    ],
)
def test_each_refusal_says_why_and_changes_nothing_for_that_line(
    buyer: Membership, make: Any, kind: str, message: str
) -> None:
    ProductFactory(sku="BOLT", list_price=D("0.5000"))
    bad = make()

    report = _add(buyer, [WantedLine(None, "BOLT", D("3")), bad, WantedLine(None, "BOLT", D("2"))])

    assert _lines(buyer) == [("BOLT", D("5"), "")]
    assert [(line.line, line.ok, line.kind) for line in report.lines] == [
        (1, True, "added"),
        (2, False, kind),
        (3, True, "merged"),
    ]
    assert message in report.lines[1].message
    assert report.lines[1].unit_price is None


def test_the_merged_quantity_is_checked_and_what_to_add_is_said(buyer: Membership) -> None:
    pipe = _rules_product()
    _add(buyer, [WantedLine(pipe, "PIPE", D("20"))])

    report = _add(buyer, [WantedLine(pipe, "PIPE", D("12")), WantedLine(pipe, "PIPE", D("10"))])

    assert _lines(buyer) == [("PIPE", D("30"), "")]
    refused, merged = report.lines
    assert (
        refused.message
        == "PIPE: order in steps of 5 from 10 (asked 12, 32 with the 20 on your draft); 10 or 15 would do."
    )
    assert refused.valid_quantities == (D("10"), D("15"))
    assert (merged.kind, merged.draft_quantity) == ("merged", D("30"))


def test_a_company_on_hold_gets_every_line_refused_and_no_draft(buyer: Membership) -> None:
    ProductFactory(sku="BOLT")
    Company.objects.filter(pk=buyer.company.pk).update(status=Company.Status.ON_HOLD, hold_reason="overdue")

    report = _add(buyer, [WantedLine(None, "BOLT", D("1")), WantedLine(None, "NOPE", D("1"))])

    assert [(line.ok, line.kind) for line in report.lines] == [
        (False, "company on hold"),
        (False, "company on hold"),
    ]
    assert "is on hold and cannot order: overdue." in report.lines[0].message
    assert not PurchaseOrder.objects.filter(buyer=buyer.user).exists()


def test_nothing_good_creates_no_draft(buyer: Membership) -> None:
    report = _add(buyer, [WantedLine(None, "NOPE", D("1"))])

    assert report.purchase_order is None
    assert report.summary == "Nothing added: 1 line(s) refused; see why below."
    assert not PurchaseOrder.objects.filter(buyer=buyer.user).exists()


def test_a_product_whose_sku_changed_says_so(buyer: Membership) -> None:
    product = ProductFactory(sku="NEW-SKU")

    report = _add(buyer, [WantedLine(product, "OLD-SKU", D("1"))])

    assert report.lines[0].changes == ("SKU now NEW-SKU (was OLD-SKU)",)
    assert _lines(buyer) == [("NEW-SKU", D("1"), "")]


def test_a_stale_product_is_checked_as_of_now(buyer: Membership) -> None:
    product = ProductFactory(sku="BOLT")
    stale = type(product).objects.get(pk=product.pk)
    type(product).objects.filter(pk=product.pk).update(is_active=False)

    report = _add(buyer, [WantedLine(stale, "BOLT", D("1"))])

    assert (report.lines[0].ok, report.lines[0].kind) == (False, "no longer sold")
    assert _lines(buyer) == []


def test_fifty_lines_take_a_bounded_number_of_queries(
    buyer: Membership, django_assert_max_num_queries: Any
) -> None:
    products = [ProductFactory(sku=f"P-{n:03d}") for n in range(50)]
    for product in products[:25]:
        StockLevel.objects.create(product=product, quantity=D("3"), as_of=WHEN)
    _add(buyer, [WantedLine(products[0], "P-000", D("1"))])
    wanted = [WantedLine(p, p.sku, D("2"), price_then=D("9")) for p in products[:45]]
    wanted += [WantedLine(None, f"GONE-{n}", D("1")) for n in range(5)]

    with django_assert_max_num_queries(15):
        report = _add(buyer, wanted)

    assert (report.added, report.merged, len(report.refused)) == (44, 1, 5)


def test_the_report_include_shows_each_line(buyer: Membership) -> None:
    bolt = ProductFactory(sku="BOLT", list_price=D("0.5000"))
    StockLevel.objects.create(product=bolt, quantity=D("12"), as_of=WHEN)
    report = _add(
        buyer, [WantedLine(bolt, "BOLT", D("2"), price_then=D("0.4000")), WantedLine(None, "NOPE", D("1"))]
    )

    html = render_to_string("purchase_orders/_add_report.html", {"add_report": report})

    assert 'data-line="1" data-kind="added"' in html
    assert 'data-line="2" data-kind="not in the catalog"' in html
    assert "0.5000 USD" in html
    assert "+25.0%" in html
    assert "NOPE: no such product in the catalog" in html
