"""Every pair of the status table, allowed and refused, and what each transition service guards."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from apps.accounts.models import Company, Role
from apps.purchase_orders import services
from apps.purchase_orders.erp import LIFECYCLE
from apps.purchase_orders.exceptions import InvalidTransition, PurchaseOrderError
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import TRANSITIONS, PurchaseOrder, PurchaseOrderStatusChange
from tests.accounts.factories import MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

Status = PurchaseOrder.Status
D = Decimal


def test_the_table_names_every_status_and_finals_have_no_way_out() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert {status for status, targets in TRANSITIONS.items() if not targets} == {
        Status.CLOSED,
        Status.REJECTED,
        Status.CANCELLED,
    }
    assert all(status not in targets for status, targets in TRANSITIONS.items())


@pytest.mark.parametrize(
    ("source", "target"),
    [(a, b) for a, b in itertools.product(Status, Status) if a != b],
    ids=lambda status: status.value,
)
def test_every_pair_is_allowed_or_refused_as_the_table_says(db: None, source: Status, target: Status) -> None:
    order = PurchaseOrder.objects.create(
        company=MembershipFactory().company, buyer=MembershipFactory().user, status=source
    )

    if target in TRANSITIONS[source]:
        services.purchase_order_erp_update(purchase_order=order, to=target, note="test")
        order.refresh_from_db()
        assert order.status == target
        change = PurchaseOrderStatusChange.objects.get()
        assert (change.from_status, change.to_status, change.note) == (source, target, "test")
    elif _passed(source, target):
        # The ERP reports a stage the order has already passed (the state pull overtook the push, or
        # the other way round): old news, not an error, and nothing changes.
        services.purchase_order_erp_update(purchase_order=order, to=target)
        order.refresh_from_db()
        assert order.status == source
        assert not PurchaseOrderStatusChange.objects.exists()
    else:
        with pytest.raises(InvalidTransition):
            services.purchase_order_erp_update(purchase_order=order, to=target)
        order.refresh_from_db()
        assert order.status == source
        assert not PurchaseOrderStatusChange.objects.exists()


def _passed(source: Status, target: Status) -> bool:
    return source in LIFECYCLE and target in LIFECYCLE and LIFECYCLE.index(source) > LIFECYCLE.index(target)


def test_only_backward_moves_on_the_erp_life_are_no_ops() -> None:
    passed = {(a, b) for a, b in itertools.product(Status, Status) if _passed(a, b)}
    assert (Status.ACCEPTED, Status.SENT_TO_ERP) in passed
    assert (Status.INVOICED, Status.SHIPPED) in passed
    assert not any(target in TRANSITIONS[source] for source, target in passed)
    assert all(Status.CANCELLED not in pair and Status.REJECTED not in pair for pair in passed)


def test_same_state_is_a_no_op(db: None) -> None:
    order = PurchaseOrder.objects.create(company=MembershipFactory().company, buyer=MembershipFactory().user)

    services.purchase_order_erp_update(purchase_order=order, to=Status.DRAFT)

    assert not PurchaseOrderStatusChange.objects.exists()


@pytest.fixture
def buyer(db: None):
    return MembershipFactory(role=Role.BUYER)


def _ready_draft(buyer) -> PurchaseOrder:  # type: ignore[no-untyped-def]
    order = services.purchase_order_draft_get(company=buyer.company, buyer=buyer.user)
    order.customer_po_number = "PO-1001"
    order.ship_to = ShipToAddressFactory(company=buyer.company, is_default=True)
    order.save()
    ProductFactory(sku="BOLT", list_price=D("0.1234"))
    ProductFactory(sku="NUT", list_price=D("2.5000"))
    services.purchase_order_lines_add(
        purchase_order=order, lines=[ParsedLine(1, "BOLT", D("333"), ""), ParsedLine(2, "NUT", D("2"), "")]
    )
    return order


def test_submit_freezes_prices_and_totals_at_currency_precision(buyer) -> None:
    order = _ready_draft(buyer)

    services.purchase_order_submit(purchase_order=order, actor=buyer.user)

    order.refresh_from_db()
    lines = {line.product.sku: line for line in order.lines.select_related("product")}
    assert order.status == Status.SUBMITTED
    assert lines["BOLT"].unit_price == D("0.1234")
    assert lines["BOLT"].line_amount == D("41.09")  # 41.0922 at 2 decimals
    assert lines["NUT"].line_amount == D("5.00")
    assert order.total_amount == D("46.09")
    assert order.submitted_by == buyer.user
    # Prices changing afterwards do not touch the submitted order.
    lines["BOLT"].product.list_price = D("9.9999")
    lines["BOLT"].product.save()
    order.refresh_from_db()
    assert order.total_amount == D("46.09")


def test_submit_explains_what_is_missing_and_changes_nothing(buyer) -> None:
    order = services.purchase_order_draft_get(company=buyer.company, buyer=buyer.user)

    with pytest.raises(
        PurchaseOrderError, match="give your PO number, choose a ship-to address, add at least one line"
    ):
        services.purchase_order_submit(purchase_order=order, actor=buyer.user)
    order.refresh_from_db()
    assert order.status == Status.DRAFT
    assert order.total_amount is None


def test_a_company_on_hold_cannot_submit_and_is_told_why(buyer) -> None:
    order = _ready_draft(buyer)
    Company.objects.filter(pk=buyer.company_id).update(
        status=Company.Status.ON_HOLD, hold_reason="Invoice 77 is 90 days late"
    )

    with pytest.raises(
        PurchaseOrderError, match="on hold and cannot submit orders: Invoice 77 is 90 days late"
    ):
        services.purchase_order_submit(purchase_order=order, actor=buyer.user)
    order.refresh_from_db()
    assert order.status == Status.DRAFT


def test_whoever_submitted_cannot_approve(buyer) -> None:
    order = _ready_draft(buyer)
    services.purchase_order_submit(purchase_order=order, actor=buyer.user)

    with pytest.raises(InvalidTransition, match="cannot approve"):
        services.purchase_order_approve(purchase_order=order, actor=buyer.user)
    services.purchase_order_approve(
        purchase_order=order, actor=MembershipFactory(company=buyer.company, role=Role.APPROVER).user
    )
    order.refresh_from_db()
    assert order.status == Status.APPROVED


def test_reject_needs_a_reason(buyer) -> None:
    order = _ready_draft(buyer)
    services.purchase_order_submit(purchase_order=order, actor=buyer.user)

    with pytest.raises(PurchaseOrderError, match="Say why"):
        services.purchase_order_reject(purchase_order=order, actor=None, note=" ")
    order.refresh_from_db()
    assert order.status == Status.SUBMITTED


def test_buyer_cannot_cancel_once_the_erp_accepted(buyer) -> None:
    order = PurchaseOrder.objects.create(company=buyer.company, buyer=buyer.user, status=Status.ACCEPTED)

    with pytest.raises(InvalidTransition, match="ask your account manager"):
        services.purchase_order_cancel(purchase_order=order, actor=buyer.user)
    services.purchase_order_cancel(purchase_order=order, actor=None, note="cancelled in the ERP")
    order.refresh_from_db()
    assert order.status == Status.CANCELLED


def test_history_records_every_step(buyer) -> None:
    order = _ready_draft(buyer)
    services.purchase_order_submit(purchase_order=order, actor=buyer.user)
    services.purchase_order_request_approval(purchase_order=order, note="total over 40.00")
    services.purchase_order_reject(purchase_order=order, actor=None, note="not this month")

    steps = list(order.status_changes.values_list("from_status", "to_status", "note"))

    assert steps == [
        ("draft", "submitted", ""),
        ("submitted", "awaiting_approval", "total over 40.00"),
        ("awaiting_approval", "rejected", "not this month"),
    ]
