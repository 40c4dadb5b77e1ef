"""Each approval condition, steps in order, separation of duties, and who is told."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from apps.accounts.models import Role
from apps.approvals.models import ApprovalRequest, ApprovalRule
from apps.approvals.services import ApprovalError, approval_decide, rules_matching
from apps.purchase_orders import services as orders
from apps.purchase_orders.exceptions import InvalidTransition
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory

Status = PurchaseOrder.Status
D = Decimal


@pytest.fixture
def team(db: None) -> dict:
    company = CompanyFactory()
    return {
        "company": company,
        "buyer": MembershipFactory(
            company=company, role=Role.BUYER, user=UserFactory(email="buyer@co.example")
        ).user,
        "approver": MembershipFactory(
            company=company, role=Role.APPROVER, user=UserFactory(email="appr@co.example")
        ).user,
        "admin": MembershipFactory(
            company=company, role=Role.ADMIN, user=UserFactory(email="admin@co.example")
        ).user,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
        "tools": CategoryFactory(name="Tools"),
    }


def _order(
    team: dict, *lines: tuple[str, str, str], number: str = "PO-1"
) -> PurchaseOrder:  # sku, qty, price
    order = orders.purchase_order_draft_get(company=team["company"], buyer=team["buyer"])
    order.customer_po_number, order.ship_to = number, team["ship_to"]
    order.save()
    parsed = []
    for n, (sku, quantity, price) in enumerate(lines, start=1):
        ProductFactory(
            sku=sku, list_price=D(price), category=team["tools"] if sku.startswith("T") else CategoryFactory()
        )
        parsed.append(ParsedLine(n, sku, D(quantity), ""))
    orders.purchase_order_lines_add(purchase_order=order, lines=parsed)
    return order


def _rule(team: dict, condition: str, step: int = 1, role: str = Role.APPROVER, **fields) -> ApprovalRule:  # type: ignore[no-untyped-def]
    categories = fields.pop("categories", [])
    rule = ApprovalRule.objects.create(
        company=team["company"], name=condition, condition=condition, step=step, approver_role=role, **fields
    )
    rule.categories.set(categories)
    return rule


def test_no_rule_approves_directly(team: dict) -> None:
    order = purchase_order_submit_and_route(
        purchase_order=_order(team, ("A1", "2", "10")), actor=team["buyer"]
    )

    assert order.status == Status.APPROVED
    assert [c.to_status for c in order.status_changes.all()] == ["submitted", "approved"]


@pytest.mark.parametrize(
    ("condition", "fields", "lines", "matches"),
    [
        ("total_at_least", {"amount": D("100")}, [("A1", "10", "10")], True),
        ("total_at_least", {"amount": D("100.01")}, [("A1", "10", "10")], False),
        ("lines_at_least", {"line_count": 2}, [("A1", "1", "1"), ("A2", "1", "1")], True),
        ("lines_at_least", {"line_count": 3}, [("A1", "1", "1"), ("A2", "1", "1")], False),
        ("category_in", {}, [("T1", "1", "1")], True),
        ("category_in", {}, [("A1", "1", "1")], False),
    ],
)
def test_each_condition(team: dict, condition: str, fields: dict, lines: list, matches: bool) -> None:
    if condition == "category_in":
        fields = {"categories": [team["tools"]]}
    _rule(team, condition, **fields)
    order = orders.purchase_order_submit(purchase_order=_order(team, *lines), actor=team["buyer"])

    assert bool(rules_matching(order)) is matches


def test_monthly_budget_counts_the_buyers_other_orders_this_month(team: dict) -> None:
    _rule(team, "monthly_budget", amount=D("150"))
    first = purchase_order_submit_and_route(
        purchase_order=_order(team, ("A1", "10", "10"), number="PO-1"), actor=team["buyer"]
    )
    second = purchase_order_submit_and_route(
        purchase_order=_order(team, ("A2", "6", "10"), number="PO-2"), actor=team["buyer"]
    )

    assert first.status == Status.APPROVED  # 100 of 150
    assert second.status == Status.AWAITING_APPROVAL  # 160 of 150
    assert "would be 160.00" in second.approval_requests.get().reason


@pytest.fixture
def committed(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Run on-commit work (emails) as each service returns, as a committed transaction would."""

    def run(call, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return call(**kwargs)

    return run


def test_steps_run_in_order_and_named_approvers_count(team: dict, committed) -> None:
    _rule(team, "total_at_least", step=1, amount=D("1"))
    named = _rule(team, "lines_at_least", step=2, role="", line_count=1)
    named.approvers.set([team["admin"]])
    order = committed(
        purchase_order_submit_and_route, purchase_order=_order(team, ("A1", "5", "10")), actor=team["buyer"]
    )
    first, second = order.approval_requests.order_by("step")

    assert (first.status, second.status) == (ApprovalRequest.Status.PENDING, ApprovalRequest.Status.WAITING)
    assert mail.outbox[-1].to == ["appr@co.example"]
    with pytest.raises(ApprovalError):
        approval_decide(request=second, actor=team["admin"], approve=True)  # not its turn

    committed(approval_decide, request=first, actor=team["approver"], approve=True)
    second.refresh_from_db()
    assert second.status == ApprovalRequest.Status.PENDING
    assert mail.outbox[-1].to == ["admin@co.example"]
    with pytest.raises(ApprovalError, match="not an approver"):
        approval_decide(request=second, actor=team["approver"], approve=True)

    committed(approval_decide, request=second, actor=team["admin"], approve=True, comment="fine")
    order.refresh_from_db()
    assert order.status == Status.APPROVED
    assert mail.outbox[-1].to == ["buyer@co.example"]
    assert "approved" in mail.outbox[-1].subject


def test_whoever_submitted_can_never_approve_even_as_an_approver(team: dict) -> None:
    _rule(team, "total_at_least", amount=D("1"))
    order = purchase_order_submit_and_route(
        purchase_order=_order(team, ("A1", "1", "10")), actor=team["buyer"]
    )
    request = order.approval_requests.get()
    request.approvers.set([team["buyer"]])

    with pytest.raises(InvalidTransition, match="cannot approve"):
        approval_decide(request=request, actor=team["buyer"], approve=True)
    order.refresh_from_db()
    assert order.status == Status.AWAITING_APPROVAL


def test_reject_needs_a_comment_closes_the_steps_and_tells_the_buyer(team: dict, committed) -> None:
    _rule(team, "total_at_least", step=1, amount=D("1"))
    _rule(team, "total_at_least", step=2, amount=D("1"))
    order = committed(
        purchase_order_submit_and_route, purchase_order=_order(team, ("A1", "1", "10")), actor=team["buyer"]
    )
    first = order.approval_requests.order_by("step").first()

    with pytest.raises(ApprovalError, match="Say why"):
        approval_decide(request=first, actor=team["approver"], approve=False)
    committed(approval_decide, request=first, actor=team["approver"], approve=False, comment="over budget")

    order.refresh_from_db()
    assert order.status == Status.REJECTED
    assert set(order.approval_requests.values_list("status", flat=True)) == {ApprovalRequest.Status.REJECTED}
    assert mail.outbox[-1].to == ["buyer@co.example"]
    assert "over budget" in mail.outbox[-1].body


def test_an_approver_of_another_company_cannot_decide(team: dict) -> None:
    _rule(team, "total_at_least", amount=D("1"))
    order = purchase_order_submit_and_route(
        purchase_order=_order(team, ("A1", "1", "10")), actor=team["buyer"]
    )
    outsider = MembershipFactory(company=CompanyFactory(), role=Role.APPROVER).user

    with pytest.raises(ApprovalError):
        approval_decide(request=order.approval_requests.get(), actor=outsider, approve=True)
