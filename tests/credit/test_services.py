"""The credit check after submit and approvals, finance's decisions on holds, and what each leaves behind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser, Group
from django.utils import timezone

from apps.accounts.models import STAFF_GROUP_NAMES, Company, Role, StaffRole
from apps.approvals.models import ApprovalRequest, ApprovalRule
from apps.approvals.services import approval_decide
from apps.credit.exceptions import CreditError
from apps.credit.models import CreditAccount, CreditHold
from apps.credit.selectors import credit_hold_queue
from apps.credit.services import (
    credit_hold_reject,
    credit_hold_release,
    credit_holds_decide,
    purchase_order_credit_check,
)
from apps.erp import inbound
from apps.erp.connectors.base import OrderPush, OrderPushResult, OrderStateRecord
from apps.erp.models import SyncJob
from apps.erp.services import connection_get_default, jobs_claim_due
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_PUSH, ORDER_STATES, orders_push
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.credit.factories import CreditAccountFactory, InvoiceFactory

D = Decimal
Status = PurchaseOrder.Status


@pytest.fixture(autouse=True)
def _credit_defaults(settings: pytest.FixtureRequest) -> None:
    """The shipped defaults, whatever the environment says; tests that need others set them."""
    settings.CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW = True  # type: ignore[attr-defined]
    settings.CREDIT_PAST_DUE_TOLERANCE_DAYS = 0  # type: ignore[attr-defined]
    settings.CREDIT_HOLD_EMAILS = []  # type: ignore[attr-defined]


@pytest.fixture
def shop(company: Company, staff_factory: Callable[..., AbstractUser]) -> dict[str, Any]:
    """Acme with a 1,000.00 limit, a 100.00 bolt, a buyer, two approvers, and finance (of whom only
    fin@wholesaler.example is active with an email address) besides other staff."""
    company.erp_party_id = "42"
    company.save()
    ProductFactory(sku="BOLT", list_price=D("100.0000"))
    finance = staff_factory(
        StaffRole.FINANCE, email="fin@wholesaler.example", first_name="Fran", last_name="Dee"
    )
    # Created with the groups by the first staff user; added directly, as staff_factory is slow.
    Group.objects.get(name=STAFF_GROUP_NAMES[StaffRole.FINANCE]).user_set.add(
        UserFactory(email="former@wholesaler.example", is_active=False),
        UserFactory(email="", username="finance-without-email"),
    )
    Group.objects.get(name=STAFF_GROUP_NAMES[StaffRole.ACCOUNT_MANAGER]).user_set.add(
        UserFactory(email="manager@wholesaler.example")
    )
    return {
        "company": company,
        "account": CreditAccountFactory(company=company, credit_limit=D("1000.00")),
        "buyer": MembershipFactory(
            company=company, role=Role.BUYER, user=UserFactory(email="buyer@acme.example")
        ).user,
        "approver": MembershipFactory(
            company=company, role=Role.APPROVER, user=UserFactory(email="approver@acme.example")
        ).user,
        "admin": MembershipFactory(
            company=company, role=Role.ADMIN, user=UserFactory(email="admin@acme.example")
        ).user,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
        "finance": finance,
    }


@pytest.fixture
def committed(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Run a service and then its on-commit work (emails), as a committed transaction would."""

    def run(call: Callable[..., Any], **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call(**kwargs)

    return run


def _draft(shop: dict[str, Any], number: str, bolts: str) -> PurchaseOrder:
    order = orders.purchase_order_draft_get(company=shop["company"], buyer=shop["buyer"])
    order.customer_po_number, order.ship_to = number, shop["ship_to"]
    order.save()
    orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D(bolts), "")])
    return order


def _submit(shop: dict[str, Any], committed: Callable[..., Any], number: str, bolts: str) -> PurchaseOrder:
    return committed(
        purchase_order_submit_and_route, purchase_order=_draft(shop, number, bolts), actor=shop["buyer"]
    )


def _rule(shop: dict[str, Any], step: int, role: str) -> ApprovalRule:
    return ApprovalRule.objects.create(
        company=shop["company"],
        name=f"step {step}",
        condition=ApprovalRule.Condition.TOTAL_AT_LEAST,
        amount=D("1.00"),
        step=step,
        approver_role=role,
    )


def _history(order: PurchaseOrder) -> list[tuple[str, str, str | None, str]]:
    return [
        (change.from_status, change.to_status, change.actor.email if change.actor else None, change.note)
        for change in order.status_changes.select_related("actor")
    ]


def _jobs() -> list[tuple[str, str]]:
    return list(SyncJob.objects.order_by("id").values_list("kind", "target_id"))


def _mails(mailoutbox: list) -> list[tuple[list[str], str]]:  # type: ignore[type-arg]
    return [(message.to, message.subject) for message in mailoutbox]


def _hold_state(hold: CreditHold) -> tuple[Any, ...]:
    hold.refresh_from_db()
    hold.purchase_order.refresh_from_db()
    return (
        hold.status,
        hold.decided_by_id,
        hold.decided_at,
        hold.decision_note,
        hold.purchase_order.status,
        hold.purchase_order.status_changes.count(),
    )


# --- The check at submit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bolts", "left"), [("5", "500.00"), ("10", "0.00")])
def test_within_the_limit_is_approved_and_queued_for_the_erp(
    shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list, bolts: str, left: str
) -> None:
    order = _submit(shop, committed, "PO-1", bolts)

    assert order.status == Status.APPROVED
    assert _jobs() == [(ORDER_PUSH, str(order.pk))]
    assert not CreditHold.objects.exists()
    assert _history(order) == [
        ("draft", "submitted", "buyer@acme.example", ""),
        ("submitted", "approved", None, f"no approval rule applies; within credit: {left} USD left"),
    ]
    assert mailoutbox == []


def test_over_the_limit_is_held_with_the_exact_snapshot_and_both_sides_are_told(
    shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list
) -> None:
    InvoiceFactory(company=shop["company"], total_amount=D("300.00"), due_date=timezone.localdate())
    message = (
        "this order (800.00 USD) would take the account over its credit limit of 1000.00 USD "
        "by 100.00 USD (already used 300.00)"
    )

    order = _submit(shop, committed, "PO-BIG", "8")

    hold = CreditHold.objects.get()
    assert order.status == Status.CREDIT_HOLD
    assert (hold.purchase_order, hold.company, hold.status) == (
        order,
        shop["company"],
        CreditHold.Status.OPEN,
    )
    assert (hold.reasons, hold.message, hold.currency) == (["over_limit"], message, "USD")
    assert (hold.credit_limit, hold.exposure, hold.order_amount) == (D("1000.00"), D("300.00"), D("800.00"))
    assert (hold.past_due_amount, hold.oldest_past_due_days) == (D("0.00"), 0)
    assert (hold.available_at_hold, hold.over_by) == (D("700.00"), D("100.00"))
    assert (hold.decided_by, hold.decided_at, hold.decision_note) == (None, None, "")
    assert _history(order)[-1] == ("submitted", "credit_hold", None, f"credit hold: {message}")
    assert _jobs() == []
    assert _mails(mailoutbox) == [
        (["buyer@acme.example"], "Order PO-BIG is waiting for a credit review"),
        (["fin@wholesaler.example"], "Credit hold: Acme Hardware Co., order PO-BIG"),
    ]
    assert f"is on credit hold: {message}." in mailoutbox[0].body
    assert f"waits for your decision: {message}." in mailoutbox[1].body
    assert "/finance/holds/" in mailoutbox[1].body


def test_hold_emails_go_to_the_configured_finance_addresses(
    shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list, settings: pytest.FixtureRequest
) -> None:
    settings.CREDIT_HOLD_EMAILS = ["credit@wholesaler.example", "cfo@wholesaler.example"]  # type: ignore[attr-defined]

    _submit(shop, committed, "PO-BIG", "11")

    assert [message.to for message in mailoutbox] == [
        ["buyer@acme.example"],
        ["credit@wholesaler.example", "cfo@wholesaler.example"],
    ]


@pytest.mark.parametrize(("days_late", "held"), [(7, False), (8, True)])
def test_an_invoice_past_due_beyond_the_tolerance_holds_the_order(
    shop: dict[str, Any], committed: Callable[..., Any], days_late: int, held: bool
) -> None:
    CreditAccount.objects.filter(pk=shop["account"].pk).update(past_due_tolerance_days=7)
    InvoiceFactory(
        company=shop["company"],
        total_amount=D("50.00"),
        due_date=timezone.localdate() - timedelta(days=days_late),
    )

    order = _submit(shop, committed, "PO-1", "1")

    if not held:
        assert order.status == Status.APPROVED
        assert not CreditHold.objects.exists()
        return
    hold = CreditHold.objects.get()
    assert order.status == Status.CREDIT_HOLD
    assert hold.reasons == ["past_due"]
    assert hold.message == "1 invoice more than 7 days past due (50.00 USD, the oldest 8 days)"
    assert (hold.past_due_amount, hold.oldest_past_due_days) == (D("50.00"), 8)
    assert (hold.exposure, hold.order_amount) == (D("50.00"), D("100.00"))  # well within the limit
    assert _jobs() == []


@pytest.mark.parametrize("account", ["none", "no limit"])
def test_without_a_credit_limit_the_order_is_approved(
    shop: dict[str, Any], committed: Callable[..., Any], account: str
) -> None:
    if account == "none":
        CreditAccount.objects.all().delete()
    else:
        CreditAccount.objects.update(credit_limit=None)
    InvoiceFactory(company=shop["company"], total_amount=D("999999.00"), due_date=timezone.localdate())

    order = _submit(shop, committed, "PO-1", "500")

    assert order.status == Status.APPROVED
    assert _history(order)[-1][3] == "no approval rule applies; no credit limit"
    assert _jobs() == [(ORDER_PUSH, str(order.pk))]
    assert not CreditHold.objects.exists()


def test_a_limit_of_zero_holds_every_order(shop: dict[str, Any], committed: Callable[..., Any]) -> None:
    CreditAccount.objects.update(credit_limit=D("0.00"))

    order = _submit(shop, committed, "PO-1", "1")

    hold = CreditHold.objects.get()
    assert order.status == Status.CREDIT_HOLD
    assert hold.reasons == ["over_limit"]
    assert (hold.credit_limit, hold.exposure, hold.order_amount) == (D("0.00"), D("0.00"), D("100.00"))
    assert _jobs() == []


def test_an_order_not_waiting_for_a_check_is_refused_and_unchanged(shop: dict[str, Any]) -> None:
    draft = _draft(shop, "PO-1", "1")

    with pytest.raises(CreditError, match=r"^A draft order is not waiting for a credit check\.$"):
        purchase_order_credit_check(purchase_order=draft)

    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert not CreditHold.objects.exists()
    assert _jobs() == []


# --- After the company's approvals --------------------------------------------------------------------------


def test_approval_rules_come_first_and_the_check_after_the_last_step(
    shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list
) -> None:
    _rule(shop, 1, Role.APPROVER)
    _rule(shop, 2, Role.ADMIN)

    order = _submit(shop, committed, "PO-BIG", "11")
    first, second = order.approval_requests.order_by("step")
    assert order.status == Status.AWAITING_APPROVAL
    assert not CreditHold.objects.exists()

    committed(approval_decide, request=first, actor=shop["approver"], approve=True)
    order.refresh_from_db()
    assert order.status == Status.AWAITING_APPROVAL
    assert not CreditHold.objects.exists()

    mailoutbox.clear()
    committed(approval_decide, request=second, actor=shop["admin"], approve=True, comment="ok")
    order.refresh_from_db()
    hold = CreditHold.objects.get()
    assert order.status == Status.CREDIT_HOLD
    assert (hold.purchase_order, hold.reasons, hold.exposure) == (order, ["over_limit"], D("0.00"))
    assert _history(order)[-1][:3] == ("awaiting_approval", "credit_hold", None)
    assert _jobs() == []
    assert [message.subject for message in mailoutbox] == [
        "Order PO-BIG is waiting for a credit review",
        "Credit hold: Acme Hardware Co., order PO-BIG",
    ]  # no "approved" email to the buyer


def test_after_the_last_approval_an_order_within_credit_is_approved(
    shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list
) -> None:
    _rule(shop, 1, Role.APPROVER)
    order = _submit(shop, committed, "PO-1", "3")

    committed(approval_decide, request=order.approval_requests.get(), actor=shop["approver"], approve=True)

    order.refresh_from_db()
    assert order.status == Status.APPROVED
    assert _history(order)[-1] == (
        "awaiting_approval",
        "approved",
        "approver@acme.example",
        "within credit: 700.00 USD left",
    )
    assert _jobs() == [(ORDER_PUSH, str(order.pk))]
    assert _mails(mailoutbox)[-1] == (["buyer@acme.example"], "Order PO-1 was approved")


def test_a_company_put_on_hold_while_the_order_awaited_approval_is_held_at_the_last_approval(
    shop: dict[str, Any], committed: Callable[..., Any]
) -> None:
    _rule(shop, 1, Role.APPROVER)
    order = _submit(shop, committed, "PO-1", "1")
    Company.objects.filter(pk=shop["company"].pk).update(
        status=Company.Status.ON_HOLD, hold_reason="cheque bounced"
    )

    committed(approval_decide, request=order.approval_requests.get(), actor=shop["approver"], approve=True)

    order.refresh_from_db()
    hold = CreditHold.objects.get()
    assert order.status == Status.CREDIT_HOLD
    assert order.approval_requests.get().status == ApprovalRequest.Status.APPROVED
    assert (hold.reasons, hold.message) == (
        ["company_on_hold"],
        "Acme Hardware Co. is on hold: cheque bounced",
    )
    assert _jobs() == []


def test_every_reason_is_given_in_order(shop: dict[str, Any], committed: Callable[..., Any]) -> None:
    _rule(shop, 1, Role.APPROVER)
    InvoiceFactory(
        company=shop["company"], total_amount=D("250.00"), due_date=timezone.localdate() - timedelta(days=40)
    )
    order = _submit(shop, committed, "PO-1", "9")
    Company.objects.filter(pk=shop["company"].pk).update(status=Company.Status.ON_HOLD, hold_reason="")

    committed(approval_decide, request=order.approval_requests.get(), actor=shop["approver"], approve=True)

    hold = CreditHold.objects.get()
    assert hold.reasons == ["company_on_hold", "past_due", "over_limit"]
    assert hold.message == (
        "Acme Hardware Co. is on hold: ask finance; "
        "1 invoice past due (250.00 USD, the oldest 40 days); "
        "this order (900.00 USD) would take the account over its credit limit of 1000.00 USD "
        "by 150.00 USD (already used 250.00)"
    )
    assert hold.reason_labels() == ["Company on hold", "Invoices past due", "Over the credit limit"]


# --- Finance's decisions ------------------------------------------------------------------------------------


@pytest.fixture
def held(shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list) -> CreditHold:
    order = _submit(shop, committed, "PO-BIG", "11")
    mailoutbox.clear()
    return CreditHold.objects.get(purchase_order=order)


@pytest.mark.parametrize("decide", [credit_hold_release, credit_hold_reject])
@pytest.mark.parametrize("note", ["", "  \n\t "])
def test_a_decision_needs_a_reason_and_without_one_nothing_changes(
    shop: dict[str, Any],
    held: CreditHold,
    committed: Callable[..., Any],
    mailoutbox: list,
    decide: Callable[..., CreditHold],
    note: str,
) -> None:
    before = _hold_state(held)

    with pytest.raises(CreditError, match=r"^Say why you (release|refuse) the order; the buyer is told"):
        committed(decide, hold=held, actor=shop["finance"], note=note)

    assert _hold_state(held) == before
    assert before[0] == CreditHold.Status.OPEN
    assert _jobs() == []
    assert mailoutbox == []


def test_release_approves_the_order_queues_the_push_and_keeps_the_audit(
    shop: dict[str, Any], held: CreditHold, committed: Callable[..., Any], mailoutbox: list
) -> None:
    started = timezone.now()

    result = committed(
        credit_hold_release, hold=held, actor=shop["finance"], note="  Payment\n received by wire "
    )

    held.refresh_from_db()
    order = held.purchase_order
    order.refresh_from_db()
    assert result == held
    assert (held.status, held.decided_by, held.decision_note) == (
        CreditHold.Status.RELEASED,
        shop["finance"],
        "Payment received by wire",
    )
    assert held.decided_at is not None
    assert started <= held.decided_at <= timezone.now()
    assert order.status == Status.APPROVED
    assert _history(order)[-1] == (
        "credit_hold",
        "approved",
        "fin@wholesaler.example",
        "credit hold released: Payment received by wire",
    )
    assert _jobs() == [(ORDER_PUSH, str(order.pk))]
    assert not credit_hold_queue().exists()
    assert _mails(mailoutbox) == [(["buyer@acme.example"], "Order PO-BIG was released by finance")]
    assert mailoutbox[0].body.startswith(
        "Fran Dee released your order PO-BIG from credit hold: Payment received by wire\n"
    )


class CapturingConnector:
    """Stands in for the ERP: records what is pushed and confirms every sale."""

    def __init__(self) -> None:
        self.pushed: list[OrderPush] = []

    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        self.pushed.extend(orders)
        return [
            OrderPushResult(
                reference=push.reference,
                customer_erp_id=push.customer_erp_id,
                erp_id=f"sale-{push.reference}",
                number=f"S-{push.reference}",
                state="confirmed",
                created=True,
            )
            for push in orders
        ]


def test_only_released_orders_are_pushed_accepting_the_erps_credit_warning(
    shop: dict[str, Any], committed: Callable[..., Any]
) -> None:
    _submit(shop, committed, "PO-SMALL", "1")
    released = _submit(shop, committed, "PO-BIG", "10")  # 100 + 1,000 > 1,000
    refused = _submit(shop, committed, "PO-REFUSED", "2")
    committed(credit_hold_release, hold=released.credit_hold, actor=shop["finance"], note="Prepaid half")
    committed(credit_hold_reject, hold=refused.credit_hold, actor=shop["finance"], note="No")
    connector = CapturingConnector()

    jobs = jobs_claim_due(connection=connection_get_default(), limit=10)
    orders_push(connector, jobs)  # type: ignore[arg-type]

    assert sorted((push.reference, push.accept_credit_warning) for push in connector.pushed) == [
        ("PO-BIG", True),
        ("PO-SMALL", False),
    ]
    statuses = dict(PurchaseOrder.objects.values_list("customer_po_number", "status"))
    assert statuses == {"PO-SMALL": "accepted", "PO-BIG": "accepted", "PO-REFUSED": "rejected"}


def test_reject_refuses_the_order_it_never_reaches_the_erp_and_the_buyer_is_told_why(
    shop: dict[str, Any], held: CreditHold, committed: Callable[..., Any], mailoutbox: list
) -> None:
    committed(credit_hold_reject, hold=held, actor=shop["finance"], note="Ask for a prepayment")

    held.refresh_from_db()
    order = held.purchase_order
    order.refresh_from_db()
    assert (held.status, held.decided_by, held.decision_note) == (
        CreditHold.Status.REJECTED,
        shop["finance"],
        "Ask for a prepayment",
    )
    assert held.decided_at is not None
    assert order.status == Status.REJECTED
    assert _history(order)[-1] == (
        "credit_hold",
        "rejected",
        "fin@wholesaler.example",
        "refused by finance: Ask for a prepayment",
    )
    assert _jobs() == []
    assert _mails(mailoutbox) == [(["buyer@acme.example"], "Order PO-BIG was refused by finance")]
    assert mailoutbox[0].body == "Finance refused your order PO-BIG (1100.00 USD): Ask for a prepayment\n"


@pytest.mark.parametrize(
    ("first", "second", "label"),
    [
        (credit_hold_release, credit_hold_reject, "released"),
        (credit_hold_release, credit_hold_release, "released"),
        (credit_hold_reject, credit_hold_release, "rejected"),
        (credit_hold_reject, credit_hold_reject, "rejected"),
    ],
)
def test_deciding_twice_is_refused_and_changes_nothing(
    shop: dict[str, Any],
    held: CreditHold,
    committed: Callable[..., Any],
    mailoutbox: list,
    staff_factory: Callable[..., AbstractUser],
    first: Callable[..., CreditHold],
    second: Callable[..., CreditHold],
    label: str,
) -> None:
    stale = CreditHold.objects.get(pk=held.pk)  # as a second finance page still shows it: open
    committed(first, hold=held, actor=shop["finance"], note="First word")
    after_first, jobs, mails = _hold_state(held), _jobs(), len(mailoutbox)
    colleague = staff_factory(StaffRole.FINANCE, email="colleague@wholesaler.example")

    with pytest.raises(CreditError) as raised:
        committed(second, hold=stale, actor=colleague, note="Second word")

    assert raised.value.message == f"Order PO-BIG was already decided by fin@wholesaler.example: {label}."
    assert _hold_state(held) == after_first
    assert _jobs() == jobs
    assert len(mailoutbox) == mails


def test_bulk_decide_reports_the_one_already_decided_and_decides_the_others(
    shop: dict[str, Any],
    committed: Callable[..., Any],
    staff_factory: Callable[..., AbstractUser],
) -> None:
    holds = [_submit(shop, committed, f"PO-{n}", "11").credit_hold for n in range(3)]
    colleague = staff_factory(StaffRole.FINANCE, email="colleague@wholesaler.example")
    committed(credit_hold_reject, hold=holds[1], actor=colleague, note="Too risky")
    decided_before = _hold_state(holds[1])

    outcome = committed(
        credit_holds_decide,
        hold_ids=[hold.pk for hold in holds],
        actor=shop["finance"],
        release=True,
        note="Paid by wire",
    )

    assert [hold.pk for hold in outcome.decided] == [holds[0].pk, holds[2].pk]
    assert outcome.refused == [
        (holds[1].pk, "Order PO-1 was already decided by colleague@wholesaler.example: rejected.")
    ]
    assert _hold_state(holds[1]) == decided_before
    for hold in (holds[0], holds[2]):
        hold.refresh_from_db()
        assert (hold.status, hold.decided_by, hold.decision_note) == (
            CreditHold.Status.RELEASED,
            shop["finance"],
            "Paid by wire",
        )
    assert dict(PurchaseOrder.objects.values_list("customer_po_number", "status")) == {
        "PO-0": "approved",
        "PO-1": "rejected",
        "PO-2": "approved",
    }
    assert _jobs() == [
        (ORDER_PUSH, str(holds[0].purchase_order_id)),
        (ORDER_PUSH, str(holds[2].purchase_order_id)),
    ]


def test_bulk_decide_without_a_reason_changes_nothing(
    shop: dict[str, Any], committed: Callable[..., Any], mailoutbox: list
) -> None:
    holds = [_submit(shop, committed, f"PO-{n}", "11").credit_hold for n in range(2)]
    before = [_hold_state(hold) for hold in holds]
    mailoutbox.clear()

    with pytest.raises(CreditError, match=r"^Say why you refuse these orders"):
        committed(
            credit_holds_decide,
            hold_ids=[h.pk for h in holds],
            actor=shop["finance"],
            release=False,
            note=" ",
        )

    assert [_hold_state(hold) for hold in holds] == before
    assert mailoutbox == []


def test_the_buyer_cancelling_a_held_order_closes_the_hold_and_it_leaves_the_queue(
    shop: dict[str, Any], committed: Callable[..., Any]
) -> None:
    cancelled = _submit(shop, committed, "PO-A", "11")
    waiting = _submit(shop, committed, "PO-B", "12")
    assert list(credit_hold_queue()) == [cancelled.credit_hold, waiting.credit_hold]

    committed(orders.purchase_order_cancel, purchase_order=cancelled, actor=shop["buyer"], note="not needed")

    cancelled.refresh_from_db()
    hold = CreditHold.objects.get(purchase_order=cancelled)
    assert cancelled.status == Status.CANCELLED
    assert (hold.status, hold.decided_by, hold.decision_note) == (
        CreditHold.Status.CANCELLED,
        shop["buyer"],
        "the buyer cancelled the order",
    )
    assert hold.decided_at is not None
    assert list(credit_hold_queue()) == [waiting.credit_hold]
    with pytest.raises(CreditError, match=r"already decided by buyer@acme\.example: cancelled\.$"):
        credit_hold_release(hold=hold, actor=shop["finance"], note="too late")
    cancelled.refresh_from_db()
    assert cancelled.status == Status.CANCELLED
    assert _jobs() == []


def test_a_held_order_takes_credit_until_it_is_cancelled(
    shop: dict[str, Any], committed: Callable[..., Any]
) -> None:
    big = _submit(shop, committed, "PO-BIG", "11")
    assert _submit(shop, committed, "PO-1", "1").status == Status.CREDIT_HOLD  # 1,100 in flow + 100

    committed(orders.purchase_order_cancel, purchase_order=big, actor=shop["buyer"])
    committed(
        orders.purchase_order_cancel,
        purchase_order=PurchaseOrder.objects.get(customer_po_number="PO-1"),
        actor=shop["buyer"],
    )

    assert _submit(shop, committed, "PO-2", "10").status == Status.APPROVED


# --- Holds the ERP ends ---------------------------------------------------------------------------------


class CreditRefusingConnector:
    """The ERP's own credit check refuses the confirm: the sale stays there as a quotation."""

    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        return [
            OrderPushResult(
                reference=push.reference,
                customer_erp_id=push.customer_erp_id,
                erp_id="7",
                number="S-7",
                state="quotation",
                created=True,
                error="Acme Hardware Co. would exceed its credit limit",
                credit_refused=True,
            )
            for push in orders
        ]


@pytest.mark.parametrize(
    ("erp_state", "status"), [("cancelled", Status.CANCELLED), ("confirmed", Status.ACCEPTED)]
)
def test_a_hold_on_an_order_the_erp_then_cancels_or_confirms_leaves_the_queue(
    shop: dict[str, Any], committed: Callable[..., Any], erp_state: str, status: str
) -> None:
    order = _submit(shop, committed, "PO-1", "1")
    committed(
        orders_push,
        connector=CreditRefusingConnector(),
        jobs=list(SyncJob.objects.filter(kind=ORDER_PUSH)),
    )
    hold = CreditHold.objects.get(purchase_order=order)
    assert (hold.status, hold.reasons) == (CreditHold.Status.OPEN, ["erp_refused"])
    assert list(credit_hold_queue()) == [hold]

    # The sale is then cancelled (or confirmed, accepting the warning) by someone in the ERP itself.
    inbound.apply_page(
        connection=connection_get_default(),
        stream=ORDER_STATES,
        records=[
            OrderStateRecord(
                erp_id="7",
                reference="PO-1",
                customer_erp_id="42",
                number="S-7",
                state=erp_state,
                shipment_state="none",
                invoice_state="none",
                changed_at=timezone.now(),
            )
        ],
    )

    order.refresh_from_db()
    hold.refresh_from_db()
    assert order.status == status
    # Finance can no longer decide it (the order is not on credit hold): it must not wait in the queue.
    assert list(credit_hold_queue()) == []
    if erp_state == "cancelled":
        assert hold.status == CreditHold.Status.CANCELLED
