"""Editing and removing a draft's lines: services under the order's lock, draft only, the product's rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Membership, Role
from apps.credit.models import CreditAccount
from apps.credit.selectors import credit_meter, credit_position_get
from apps.purchase_orders import services
from apps.purchase_orders.exceptions import LineNotFound, PurchaseOrderError
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import MembershipFactory
from tests.catalog.factories import ProductFactory

D = Decimal


@pytest.fixture
def buyer(db: None) -> Membership:
    return MembershipFactory(role=Role.BUYER)


def _draft_with_bolts(buyer: Membership) -> tuple[PurchaseOrder, PurchaseOrderLine]:
    order = services.purchase_order_draft_get(company=buyer.company, buyer=buyer.user)
    ProductFactory(sku="BOLT", order_minimum=D("10"), order_increment=D("5"), list_price=D("0.5000"))
    services.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D("20"), "dock 4")])
    return order, order.lines.get()


def test_a_draft_line_takes_a_new_quantity_and_note(buyer: Membership) -> None:
    order, line = _draft_with_bolts(buyer)

    updated = services.purchase_order_line_update(
        purchase_order=order, line_id=line.pk, quantity=D("35"), note=" dock 5 "
    )

    line.refresh_from_db()
    assert (updated.quantity, line.quantity, line.note) == (D("35"), D("35"), "dock 5")


def test_without_a_note_the_line_keeps_its_note(buyer: Membership) -> None:
    order, line = _draft_with_bolts(buyer)

    services.purchase_order_line_update(purchase_order=order, line_id=line.pk, quantity=D("15"))

    line.refresh_from_db()
    assert (line.quantity, line.note) == (D("15"), "dock 4")


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (D("12"), "BOLT: order in steps of 5 from 10."),
        (D("5"), "BOLT: order at least 10."),
        (D("0"), "BOLT: quantity 0 must be more than zero."),
    ],
)
def test_a_quantity_against_the_rules_is_refused_and_changes_nothing(
    buyer: Membership, quantity: Decimal, message: str
) -> None:
    order, line = _draft_with_bolts(buyer)
    before = (line.quantity, line.note, line.updated_at)

    with pytest.raises(PurchaseOrderError) as refused:
        services.purchase_order_line_update(purchase_order=order, line_id=line.pk, quantity=quantity)

    assert refused.value.message == message
    line.refresh_from_db()
    assert (line.quantity, line.note, line.updated_at) == before


def test_a_submitted_order_refuses_line_changes_and_removals(buyer: Membership) -> None:
    order, line = _draft_with_bolts(buyer)
    PurchaseOrder.objects.filter(pk=order.pk).update(status=PurchaseOrder.Status.SUBMITTED)

    with pytest.raises(PurchaseOrderError, match="Only a draft can be changed"):
        services.purchase_order_line_update(purchase_order=order, line_id=line.pk, quantity=D("30"))
    with pytest.raises(PurchaseOrderError, match="Only a draft can be changed"):
        services.purchase_order_line_remove(purchase_order=order, line_id=line.pk)

    line.refresh_from_db()
    assert line.quantity == D("20")


def test_another_orders_line_is_not_found_and_stays(buyer: Membership) -> None:
    order, _ = _draft_with_bolts(buyer)
    other_order, other_line = _draft_with_other_buyer()

    with pytest.raises(LineNotFound):
        services.purchase_order_line_update(purchase_order=order, line_id=other_line.pk, quantity=D("30"))
    with pytest.raises(LineNotFound):
        services.purchase_order_line_remove(purchase_order=order, line_id=other_line.pk)

    other_line.refresh_from_db()
    assert (other_line.purchase_order_id, other_line.quantity) == (other_order.pk, D("3"))


def _draft_with_other_buyer() -> tuple[PurchaseOrder, PurchaseOrderLine]:
    other = MembershipFactory(role=Role.BUYER)
    order = services.purchase_order_draft_get(company=other.company, buyer=other.user)
    ProductFactory(sku="NUT")
    services.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "NUT", D("3"), "")])
    return order, order.lines.get()


def test_a_removed_line_leaves_the_draft(buyer: Membership) -> None:
    order, line = _draft_with_bolts(buyer)

    removed = services.purchase_order_line_remove(purchase_order=order, line_id=line.pk)

    assert removed.product.sku == "BOLT"
    assert not order.lines.exists()


def test_the_builders_lines_fragment_keeps_the_credit_meter_as_before(
    buyer: Membership, client: Client
) -> None:
    order, line = _draft_with_bolts(buyer)
    CreditAccount.objects.create(company=order.company, credit_limit=D("16.00"))  # 15.00 of 16.00: warning
    client.force_login(buyer.user)

    response = client.post(
        reverse("po-builder-line", args=[line.pk]), {"quantity": "30"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    meter = render_to_string(
        "credit/_credit_meter.html",
        {
            "credit": credit_meter(
                position=credit_position_get(company=order.company), order_amount=D("15.00")
            )
        },
    )
    assert response.status_code == 200
    assert html.strip().startswith('<section class="card" id="lines"')
    assert 'data-field="estimate">15.00 ' in html
    assert 'data-field="credit-warning"' in meter
    assert meter in html  # the same markup the page included before credit rendered it


def test_a_quantity_the_builder_cannot_read_is_reported_with_the_sku(
    buyer: Membership, client: Client
) -> None:
    _, line = _draft_with_bolts(buyer)
    client.force_login(buyer.user)

    response = client.post(reverse("po-builder-line", args=[line.pk]), {"quantity": "many"}, follow=True)

    line.refresh_from_db()
    assert line.quantity == D("20")
    assert "BOLT: quantity &#x27;many&#x27; is not a number." in response.content.decode()


# --- The draft's header ----------------------------------------------------------------------------------


def _header(order: PurchaseOrder, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "customer_po_number": "PO-77",
        "ship_to": order.company.ship_to_addresses.first(),
        "requested_date": None,
        "notes": "gate 2",
    }
    return {**values, **changes}


def test_the_header_service_writes_the_header_only(buyer: Membership) -> None:
    order, _ = _draft_with_bolts(buyer)
    stale = PurchaseOrder.objects.get(pk=order.pk)
    PurchaseOrder.objects.filter(pk=order.pk).update(total_amount=D("99.00"))  # another write meanwhile

    services.purchase_order_header_update(purchase_order=stale, **_header(order))  # type: ignore[arg-type]

    order.refresh_from_db()
    assert (order.customer_po_number, order.notes, order.total_amount) == ("PO-77", "gate 2", D("99.00"))


def test_a_submitted_order_keeps_its_header_and_its_status(buyer: Membership) -> None:
    order, _ = _draft_with_bolts(buyer)
    stale = PurchaseOrder.objects.get(pk=order.pk)  # the builder's copy, loaded before the submit
    PurchaseOrder.objects.filter(pk=order.pk).update(
        status=PurchaseOrder.Status.SUBMITTED, customer_po_number="PO-1"
    )

    with pytest.raises(PurchaseOrderError, match="Only a draft can be changed"):
        services.purchase_order_header_update(purchase_order=stale, **_header(order))  # type: ignore[arg-type]

    order.refresh_from_db()
    assert (order.status, order.customer_po_number, order.notes) == (
        PurchaseOrder.Status.SUBMITTED,
        "PO-1",
        "",
    )


def test_a_po_number_taken_meanwhile_is_a_message_and_nothing_changes(buyer: Membership) -> None:
    order, _ = _draft_with_bolts(buyer)
    PurchaseOrder.objects.create(company=buyer.company, buyer=buyer.user, customer_po_number="PO-77")

    with pytest.raises(PurchaseOrderError, match="already has an order numbered PO-77"):
        services.purchase_order_header_update(purchase_order=order, **_header(order))  # type: ignore[arg-type]

    order.refresh_from_db()
    assert (order.customer_po_number, order.notes) == ("", "")


def test_another_company_address_is_refused(buyer: Membership) -> None:
    order, _ = _draft_with_bolts(buyer)
    foreign = MembershipFactory(role=Role.BUYER).company
    address = foreign.ship_to_addresses.first() or foreign.ship_to_addresses.create(
        label="Elsewhere", street="1 Far Rd", city="Faraway", postal_code="1", country="US"
    )

    with pytest.raises(PurchaseOrderError, match="one of your company's addresses"):
        services.purchase_order_header_update(purchase_order=order, **_header(order, ship_to=address))  # type: ignore[arg-type]

    order.refresh_from_db()
    assert order.ship_to_id != address.pk
