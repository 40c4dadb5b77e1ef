"""Credit's gate: what purchase orders' cancel, ERP updates and push ask of credit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import Role
from apps.credit.erp import credit_overrun_accepted
from apps.credit.models import CreditHold
from apps.purchase_orders import gates, services
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import MembershipFactory, UserFactory

Status = PurchaseOrder.Status


def _held(status: str = CreditHold.Status.OPEN, order_status: str = Status.CREDIT_HOLD) -> CreditHold:
    buyer = MembershipFactory(role=Role.BUYER)
    order = PurchaseOrder.objects.create(company=buyer.company, buyer=buyer.user, status=order_status)
    decided = {} if status == CreditHold.Status.OPEN else {"decided_by": UserFactory()}
    return CreditHold.objects.create(
        purchase_order=order,
        company=buyer.company,
        status=status,
        reasons=[CreditHold.Reason.OVER_LIMIT],
        message="over the limit",
        order_amount=Decimal("100.00"),
        exposure=Decimal("0.00"),
        **decided,
    )


def test_only_orders_finance_released_pass_the_erps_credit_check(db: None) -> None:
    released = _held(CreditHold.Status.RELEASED, Status.APPROVED)
    rejected = _held(CreditHold.Status.REJECTED, Status.REJECTED)
    open_hold = _held()
    ids = [released.purchase_order_id, rejected.purchase_order_id, open_hold.purchase_order_id, 999_999]

    assert credit_overrun_accepted(ids) == {released.purchase_order_id}
    assert gates.gates_credit_overrun_accepted(ids) == {released.purchase_order_id}


def test_a_cancelled_order_on_hold_leaves_finances_queue(db: None) -> None:
    hold = _held()
    buyer = hold.purchase_order.buyer

    services.purchase_order_cancel(purchase_order=hold.purchase_order, actor=buyer, note="not needed")

    hold.refresh_from_db()
    assert (hold.status, hold.decided_by, hold.decision_note) == (
        CreditHold.Status.CANCELLED,
        buyer,
        "the buyer cancelled the order",
    )


@pytest.mark.parametrize(
    ("to", "outcome", "note"),
    [
        (Status.CANCELLED, CreditHold.Status.CANCELLED, "cancelled in the ERP: by sales"),
        (Status.APPROVED, CreditHold.Status.SETTLED_IN_ERP, "confirmed in the ERP: by sales"),
    ],
)
def test_the_erp_deciding_a_held_order_settles_or_withdraws_its_hold(
    db: None, to: str, outcome: str, note: str
) -> None:
    hold = _held()

    services.purchase_order_erp_update(purchase_order=hold.purchase_order, to=Status(to), note="by sales")

    hold.refresh_from_db()
    assert (hold.status, hold.decision_note) == (outcome, note)
