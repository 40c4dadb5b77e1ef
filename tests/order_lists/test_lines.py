"""Lines onto a list from any source, and from the list to the draft, each re-checked on the way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.models import Company, Membership, Role
from apps.catalog.models import StockLevel
from apps.order_lists import services
from apps.order_lists.exceptions import OrderListError, OrderListReadOnly
from apps.order_lists.models import OrderList, OrderListLine
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _p(line: int, sku: str, quantity: str, note: str = "") -> ParsedLine:
    return ParsedLine(line, sku, Decimal(quantity), note)


@pytest.fixture
def buyer(company: Company, member_factory: Callable[..., Membership]) -> Membership:
    return member_factory(company, Role.BUYER)


@pytest.fixture
def colleague(company: Company, member_factory: Callable[..., Membership]) -> Membership:
    return member_factory(company, Role.BUYER)


@pytest.fixture
def weekly(buyer: Membership) -> OrderList:
    return services.order_list_create(
        membership=buyer, name="Weekly", visibility=OrderList.Visibility.COMPANY, colleagues_can_edit=False
    )


def test_lines_are_added_merged_or_refused_with_the_reason(buyer: Membership, weekly: OrderList) -> None:
    ProductFactory(sku="BOLT", list_price=Decimal("2.5000"))
    ProductFactory(sku="NUT", list_price=Decimal("0.2000"), order_minimum=10, order_increment=10)
    ProductFactory(sku="OLD", is_active=False)

    result = services.order_list_lines_add(
        order_list=weekly,
        membership=buyer,
        lines=[
            _p(1, "bolt", "4", "left bin"),
            _p(2, "NUT", "15"),
            _p(3, "OLD", "1"),
            _p(4, "GHOST", "1"),
            _p(5, "BOLT", "6", "ignored: the first note stays"),
            _p(6, "NUT", "20"),
            _p(7, "BOLT", "-3"),
        ],
    )

    assert (result.added, result.merged) == (2, 1)
    answers = {entry.line: (entry.ok, entry.message) for entry in result.report}
    assert answers == {
        1: (True, "BOLT: 4 added"),
        2: (False, "NUT: order in steps of 10 from 10 (asked 15)"),
        3: (False, "OLD: no longer sold"),
        4: (False, "GHOST: unknown SKU"),
        5: (True, "BOLT: merged, now 10"),
        6: (True, "NUT: 20 added"),
        7: (False, "BOLT: quantity -3 must be more than zero"),
    }
    lines = {line.product.sku: line for line in weekly.lines.select_related("product")}
    assert set(lines) == {"BOLT", "NUT"}
    assert (lines["BOLT"].default_quantity, lines["BOLT"].note) == (10, "left bin")
    assert lines["BOLT"].price_when_added == Decimal("2.5000")  # today's price when first added
    assert lines["NUT"].price_when_added == Decimal("0.2000")
    assert lines["NUT"].added_by_id == buyer.user_id


def test_a_negative_quantity_on_a_new_product_is_refused_and_nothing_added(
    buyer: Membership, weekly: OrderList
) -> None:
    ProductFactory(sku="WASHER")

    result = services.order_list_lines_add(
        order_list=weekly, membership=buyer, lines=[_p(1, "WASHER", "0"), _p(2, "WASHER", "-2")]
    )

    assert [entry.ok for entry in result.report] == [False, False]
    assert "more than zero" in result.report[0].message
    assert not weekly.lines.exists()


def test_a_bad_line_edit_changes_nothing(buyer: Membership, weekly: OrderList) -> None:
    ProductFactory(sku="BOLT", order_minimum=5, order_increment=5)
    services.order_list_lines_add(order_list=weekly, membership=buyer, lines=[_p(1, "BOLT", "5")])
    line = weekly.lines.get()

    for quantity, reason in [("0", "more than zero"), ("-5", "more than zero"), ("7", "steps of 5")]:
        with pytest.raises(OrderListError, match=reason):
            services.order_list_line_update(
                order_list=weekly, membership=buyer, line_id=line.pk, quantity=Decimal(quantity), note="x"
            )
    line.refresh_from_db()
    assert (line.default_quantity, line.note) == (5, "")


def _draft(member: Membership) -> dict[str, tuple[Decimal, str]]:
    order = PurchaseOrder.objects.get(buyer=member.user, status=PurchaseOrder.Status.DRAFT)
    return {line.product.sku: (line.quantity, line.note) for line in order.lines.select_related("product")}


def test_send_rechecks_every_line_against_todays_prices_rules_and_stock(
    buyer: Membership, colleague: Membership, weekly: OrderList
) -> None:
    """Between adding and sending: a price goes up, a product's rules change, a product stops being sold,
    stock runs low. The colleague's send adds what still can be, each with both prices, and says why not."""
    bolt = ProductFactory(sku="BOLT", list_price=Decimal("2.0000"))
    nut = ProductFactory(sku="NUT", list_price=Decimal("1.0000"))
    screw = ProductFactory(sku="SCREW")
    washer = ProductFactory(sku="WASHER")
    services.order_list_lines_add(
        order_list=weekly,
        membership=buyer,
        lines=[_p(1, "BOLT", "4", "rush"), _p(2, "NUT", "3"), _p(3, "SCREW", "1"), _p(4, "WASHER", "2")],
    )
    bolt.list_price = Decimal("2.5000")
    bolt.save()
    nut.order_minimum = nut.order_increment = Decimal(6)
    nut.save()
    screw.is_active = False
    screw.save()
    StockLevel.objects.create(
        product=washer, quantity=Decimal(1), as_of=timezone.now() - timedelta(minutes=5)
    )

    result = services.order_list_send(order_list=weekly, membership=colleague)

    report = {entry.sku: entry for entry in result.report.lines}
    assert [entry.ok for entry in result.report.lines] == [True, False, False, True]
    assert (report["BOLT"].price_then, report["BOLT"].unit_price) == (Decimal("2.0000"), Decimal("2.5000"))
    assert "price up from 2.0000 to 2.5000" in report["BOLT"].message
    assert report["NUT"].message == "NUT: order at least 6 (asked 3); 6 would do."
    assert report["SCREW"].message == "SCREW: no longer sold."
    assert report["WASHER"].short_of_stock
    assert report["WASHER"].stock == 1
    assert _draft(colleague) == {"BOLT": (Decimal(4), "rush"), "WASHER": (Decimal(2), "")}
    assert weekly.lines.count() == 4  # sending never changes the list
    assert not PurchaseOrder.objects.filter(buyer=buyer.user).exists()  # the sender's draft, not the owner's


def test_send_ticked_lines_only(buyer: Membership, weekly: OrderList) -> None:
    ProductFactory(sku="BOLT")
    ProductFactory(sku="NUT")
    services.order_list_lines_add(
        order_list=weekly, membership=buyer, lines=[_p(1, "BOLT", "1"), _p(2, "NUT", "2")]
    )
    nut = weekly.lines.get(product__sku="NUT")

    result = services.order_list_send(order_list=weekly, membership=buyer, line_ids=[nut.pk, 999_999])

    assert [entry.sku for entry in result.report.lines] == ["NUT"]
    assert result.missing == 1
    assert _draft(buyer) == {"NUT": (Decimal(2), "")}


def test_nothing_ticked_is_a_message_and_no_draft(buyer: Membership, weekly: OrderList) -> None:
    with pytest.raises(OrderListError, match="Tick the lines"):
        services.order_list_send(order_list=weekly, membership=buyer, line_ids=[])
    assert not PurchaseOrder.objects.exists()


def test_viewers_cannot_send(
    company: Company, member_factory: Callable[..., Membership], buyer: Membership, weekly: OrderList
) -> None:
    ProductFactory(sku="BOLT")
    services.order_list_lines_add(order_list=weekly, membership=buyer, lines=[_p(1, "BOLT", "1")])

    for role in (Role.VIEWER, Role.APPROVER):
        with pytest.raises(OrderListReadOnly):
            services.order_list_send(order_list=weekly, membership=member_factory(company, role))
    assert not PurchaseOrderLine.objects.exists()


def test_a_company_on_hold_sends_nothing(buyer: Membership, weekly: OrderList, company: Company) -> None:
    ProductFactory(sku="BOLT")
    services.order_list_lines_add(order_list=weekly, membership=buyer, lines=[_p(1, "BOLT", "1")])
    company.status, company.hold_reason = Company.Status.ON_HOLD, "Invoices past due"
    company.save()

    result = services.order_list_send(order_list=weekly, membership=buyer)

    assert [entry.kind for entry in result.report.lines] == ["company on hold"]
    assert not PurchaseOrderLine.objects.exists()
    assert OrderListLine.objects.count() == 1
