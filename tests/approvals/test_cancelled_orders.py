"""A cancelled order leaves every queue: the approvers' (steps withdrawn) and finance's (hold cancelled)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from apps.accounts.models import Role, StaffRole
from apps.approvals.models import ApprovalRequest, ApprovalRule
from apps.approvals.selectors import approval_queue
from apps.approvals.services import ApprovalError, approval_decide
from apps.credit.models import CreditAccount, CreditHold
from apps.credit.selectors import credit_hold_queue
from apps.purchase_orders import services as orders
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

Status = PurchaseOrder.Status
Step = ApprovalRequest.Status


@pytest.fixture
def team(db: None) -> dict:
    company = CompanyFactory()
    return {
        "company": company,
        "buyer": MembershipFactory(company=company, role=Role.BUYER).user,
        "approver": MembershipFactory(company=company, role=Role.APPROVER).user,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
    }


def _submitted(team: dict, number: str = "PO-1") -> PurchaseOrder:
    order = orders.purchase_order_draft_get(company=team["company"], buyer=team["buyer"])
    order.customer_po_number, order.ship_to = number, team["ship_to"]
    order.save()
    ProductFactory(sku=f"A-{number}", list_price=Decimal("10.0000"))
    orders.purchase_order_lines_add(
        purchase_order=order, lines=[ParsedLine(1, f"A-{number}", Decimal(3), "")]
    )
    return purchase_order_submit_and_route(purchase_order=order, actor=team["buyer"])


@pytest.fixture
def awaiting(team: dict) -> PurchaseOrder:
    ApprovalRule.objects.create(
        company=team["company"],
        name="Any",
        condition="total_at_least",
        amount=1,
        step=1,
        approver_role="approver",
    )
    ApprovalRule.objects.create(
        company=team["company"],
        name="Two",
        condition="total_at_least",
        amount=1,
        step=2,
        approver_role="approver",
    )
    order = _submitted(team)
    assert order.status == Status.AWAITING_APPROVAL
    return order


def test_cancelling_withdraws_the_steps_and_empties_the_queue(team: dict, awaiting: PurchaseOrder) -> None:
    assert len(approval_queue(user=team["approver"], company=team["company"])) == 1

    orders.purchase_order_cancel(purchase_order=awaiting, actor=team["buyer"], note="not needed")

    assert set(awaiting.approval_requests.values_list("status", flat=True)) == {Step.WITHDRAWN}
    assert approval_queue(user=team["approver"], company=team["company"]) == []


def test_the_queue_page_and_the_order_page_after_a_cancel(
    client: Client, team: dict, awaiting: PurchaseOrder
) -> None:
    orders.purchase_order_cancel(purchase_order=awaiting, actor=team["buyer"])
    client.force_login(team["approver"])

    queue = client.get("/approvals/").content.decode()
    detail = client.get(f"/orders/{awaiting.pk}/").content.decode()

    assert "Nothing waits for you." in queue
    assert f"/approvals/{awaiting.approval_requests.get(step=1).pk}/" not in queue
    assert "Step 1: Pending" not in detail
    assert "Step 1: Withdrawn (the order was cancelled)" in detail
    assert "Step 2: Withdrawn" in detail


def test_a_decision_on_a_cancelled_order_is_refused_and_changes_nothing(
    client: Client, team: dict, awaiting: PurchaseOrder
) -> None:
    step = awaiting.approval_requests.get(step=1)
    orders.purchase_order_cancel(purchase_order=awaiting, actor=team["buyer"])
    history = awaiting.status_changes.count()
    client.force_login(team["approver"])

    response = client.post(f"/approvals/{step.pk}/", {"decision": "approve"}, follow=True)

    assert "PO-1 is cancelled: it no longer waits for an approval, and nothing was changed." in (
        response.content.decode()
    )
    assert "not waiting for a credit check" not in response.content.decode()
    awaiting.refresh_from_db()
    step.refresh_from_db()
    assert awaiting.status == Status.CANCELLED
    assert (step.status, step.decided_by) == (Step.WITHDRAWN, None)
    assert awaiting.status_changes.count() == history


def test_steps_left_pending_on_an_order_cancelled_before_the_fix_are_out_of_the_queue(
    team: dict, awaiting: PurchaseOrder
) -> None:
    # As data written before the fix: the order cancelled, its step still pending.
    PurchaseOrder.objects.filter(pk=awaiting.pk).update(status=Status.CANCELLED)
    step = awaiting.approval_requests.get(step=1)

    assert approval_queue(user=team["approver"], company=team["company"]) == []
    with pytest.raises(ApprovalError, match="is cancelled: it no longer waits for an approval"):
        approval_decide(request=step, actor=team["approver"], approve=False, comment="no")
    step.refresh_from_db()
    assert step.status == Step.PENDING
    assert not PurchaseOrder.objects.filter(pk=awaiting.pk).exclude(status=Status.CANCELLED).exists()


def test_a_cancelled_order_on_credit_hold_leaves_finances_queue(
    client: Client, team: dict, staff_factory
) -> None:  # type: ignore[no-untyped-def]
    CreditAccount.objects.create(company=team["company"], credit_limit=Decimal("1.00"))
    held = _submitted(team, "PO-HOLD")
    assert held.status == Status.CREDIT_HOLD
    assert [hold.purchase_order_id for hold in credit_hold_queue()] == [held.pk]

    orders.purchase_order_cancel(purchase_order=held, actor=team["buyer"])
    client.force_login(staff_factory(StaffRole.FINANCE))

    assert list(credit_hold_queue()) == []
    assert CreditHold.objects.get(purchase_order=held).status == CreditHold.Status.CANCELLED
    page = client.get("/finance/holds/").content.decode()
    assert f'id="hold-{held.credit_hold.pk}"' not in page
    assert "Nothing waiting." in page
