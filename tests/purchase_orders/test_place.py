"""The API's order placement as a service: created with its lines and submitted, or nothing kept."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError

from apps.accounts.models import Membership, Role
from apps.purchase_orders import services
from apps.purchase_orders.exceptions import OrderRequestRefused
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import IdempotencyRecord, PurchaseOrder
from tests.accounts.factories import MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

D = Decimal


@pytest.fixture
def buyer(db: None) -> Membership:
    membership = MembershipFactory(role=Role.BUYER)
    ShipToAddressFactory(company=membership.company, is_default=True)
    ProductFactory(sku="BOLT", list_price=D("0.5000"))
    return membership


def _request(*lines: ParsedLine, **fields: object) -> services.OrderRequest:
    return services.OrderRequest(po_number="PO-7", lines=list(lines), **fields)  # type: ignore[arg-type]


def test_an_order_is_created_submitted_and_keyed(buyer: Membership) -> None:
    order = services.purchase_order_place(
        company=buyer.company,
        buyer=buyer.user,
        request=_request(ParsedLine(0, "BOLT", D("10"), "dock")),
        idempotency_key="key-1",
        request_hash="abc",
    )

    assert order.status == PurchaseOrder.Status.APPROVED  # no rule, no credit limit
    assert order.total_amount == D("5.00")
    assert [(line.product.sku, line.quantity, line.note) for line in order.lines.all()] == [
        ("BOLT", D("10"), "dock")
    ]
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.request_hash, record.purchase_order_id) == ("key-1", "abc", order.pk)


@pytest.mark.parametrize(
    ("request_", "errors"),
    [
        (
            _request(ParsedLine(0, "NOPE", D("1"), ""), unreadable={1: "quantity 'x' is not a number"}),
            {"lines": {"0": ["NOPE: unknown SKU"], "1": ["quantity 'x' is not a number"]}},
        ),
        (
            _request(ParsedLine(0, "BOLT", D("1"), ""), ship_to_id=999_999),
            {"ship_to_id": ["No such ship-to address in your company."]},
        ),
    ],
    ids=["lines", "ship-to"],
)
def test_a_refused_order_keeps_nothing(
    buyer: Membership, request_: services.OrderRequest, errors: dict[str, object]
) -> None:
    with pytest.raises(OrderRequestRefused) as refused:
        services.purchase_order_place(
            company=buyer.company, buyer=buyer.user, request=request_, idempotency_key="key-2"
        )

    assert refused.value.errors == errors
    assert not PurchaseOrder.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_po_number_the_company_has_is_refused(buyer: Membership) -> None:
    services.purchase_order_place(
        company=buyer.company, buyer=buyer.user, request=_request(ParsedLine(0, "BOLT", D("1"), ""))
    )

    with pytest.raises(OrderRequestRefused) as refused:
        services.purchase_order_place(
            company=buyer.company, buyer=buyer.user, request=_request(ParsedLine(0, "BOLT", D("2"), ""))
        )

    assert refused.value.errors == {"po_number": ["Your company already has an order PO-7."]}
    assert PurchaseOrder.objects.count() == 1


def test_a_submit_refusal_is_the_whole_orders_and_keeps_nothing(buyer: Membership) -> None:
    buyer.company.status = buyer.company.Status.ON_HOLD
    buyer.company.hold_reason = "cheque bounced"
    buyer.company.save()

    with pytest.raises(OrderRequestRefused) as refused:
        services.purchase_order_place(
            company=buyer.company, buyer=buyer.user, request=_request(ParsedLine(0, "BOLT", D("1"), ""))
        )

    assert list(refused.value.errors) == ["detail"]
    assert "on hold and cannot submit orders: cheque bounced" in refused.value.errors["detail"][0]
    assert not PurchaseOrder.objects.exists()


def test_a_key_used_meanwhile_raises_integrity_error_for_the_caller_to_replay(buyer: Membership) -> None:
    first = services.purchase_order_place(
        company=buyer.company,
        buyer=buyer.user,
        request=_request(ParsedLine(0, "BOLT", D("1"), "")),
        idempotency_key="same",
    )

    with pytest.raises(IntegrityError):
        services.purchase_order_place(
            company=buyer.company,
            buyer=buyer.user,
            request=services.OrderRequest(po_number="PO-8", lines=[ParsedLine(0, "BOLT", D("1"), "")]),
            idempotency_key="same",
        )

    assert list(PurchaseOrder.objects.values_list("pk", flat=True)) == [first.pk]
