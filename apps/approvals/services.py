"""The company's approval rules applied to a submitted order, step by step, with separation of duties."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.accounts.models import Company, Membership
from apps.approvals.models import ApprovalRequest, ApprovalRule
from apps.catalog.models import Category
from apps.core.exceptions import ApplicationError
from apps.core.mail import mail_on_commit
from apps.credit.services import purchase_order_credit_check
from apps.purchase_orders import services as orders
from apps.purchase_orders.exceptions import InvalidTransition
from apps.purchase_orders.gates import Gate
from apps.purchase_orders.models import PurchaseOrder

Status = PurchaseOrder.Status
SPENDING = [s for s in Status if s not in (Status.DRAFT, Status.REJECTED, Status.CANCELLED)]


class ApprovalError(ApplicationError):
    pass


class ApprovalRuleNotFound(ApprovalError):
    """No such rule in the company (another company's, or removed meanwhile)."""


def _month_spend(order: PurchaseOrder) -> Decimal:
    start = timezone.localdate().replace(day=1)
    spent = (
        PurchaseOrder.objects.filter(
            company=order.company,
            submitted_by=order.submitted_by,
            status__in=SPENDING,
            submitted_at__date__gte=start,
        )
        .exclude(pk=order.pk)
        .aggregate(total=Sum("total_amount"))["total"]
    )
    return spent or Decimal("0")


def rules_matching(order: PurchaseOrder) -> list[tuple[ApprovalRule, str]]:
    """The company's active rules this order meets, each with the reason an approver reads."""
    total = order.total_amount or Decimal("0")
    lines = list(order.lines.select_related("product__category"))
    matched: list[tuple[ApprovalRule, str]] = []
    for rule in ApprovalRule.objects.filter(company=order.company, is_active=True).prefetch_related(
        "categories"
    ):
        condition = ApprovalRule.Condition
        if rule.condition == condition.TOTAL_AT_LEAST and rule.amount is not None and total >= rule.amount:
            matched.append((rule, f"order total {total} {order.currency} is at least {rule.amount}"))
        elif rule.condition == condition.LINES_AT_LEAST and rule.line_count and len(lines) >= rule.line_count:
            matched.append((rule, f"{len(lines)} lines, at least {rule.line_count}"))
        elif rule.condition == condition.CATEGORY_IN:
            wanted = {category.pk: category.name for category in rule.categories.all()}
            hits = sorted(
                {wanted[line.product.category_id] for line in lines if line.product.category_id in wanted}
            )
            if hits:
                matched.append((rule, "contains " + ", ".join(hits)))
        elif rule.condition == condition.MONTHLY_BUDGET and rule.amount is not None:
            spend = _month_spend(order) + total
            if spend > rule.amount:
                matched.append(
                    (rule, f"the buyer's spend this month would be {spend}, over the budget of {rule.amount}")
                )
    return matched


def eligible(request: ApprovalRequest, user: User) -> bool:
    """May ``user`` decide this step? An active member, by role or by name; never the submitter."""
    order = request.purchase_order
    if user.pk == order.submitted_by_id:
        return False
    membership = Membership.objects.active().filter(user=user, company_id=order.company_id).first()
    if membership is None:
        return False
    by_name = request.approvers.filter(pk=user.pk).exists()
    by_role = bool(request.approver_role) and membership.role == request.approver_role
    return by_name or by_role


def _notify_step(order: PurchaseOrder, step: int) -> None:
    requests = ApprovalRequest.objects.filter(purchase_order=order, step=step).prefetch_related("approvers")
    emails: set[str] = set()
    for request in requests:
        emails.update(user.email for user in request.approvers.all() if user.email)
        if request.approver_role:
            emails.update(
                Membership.objects.active()
                .filter(company_id=order.company_id, role=request.approver_role)
                .exclude(user_id=order.submitted_by_id or 0)
                .values_list("user__email", flat=True)
            )
    emails.discard(order.submitted_by.email if order.submitted_by else "")
    reasons = "; ".join(request.reason for request in requests)
    mail_on_commit(
        subject=f"Order {order.customer_po_number} needs your approval",
        body=f"{order.submitted_by} submitted order {order.customer_po_number} "
        f"({order.total_amount} {order.currency}) for {order.company.name}.\nWhy: {reasons}\n",
        recipients=sorted(emails),
    )


def _notify_buyer(order: PurchaseOrder, subject: str, body: str) -> None:
    mail_on_commit(
        subject=subject, body=body, recipients=[order.submitted_by.email if order.submitted_by else ""]
    )


@transaction.atomic
def approval_route(*, purchase_order: PurchaseOrder, actor: User) -> PurchaseOrder:
    """A submitted order meets the company's rules (the approvals gate's router, called by
    ``purchase_order_submit_and_route`` in its transaction): matched rules become approval steps; none:
    straight to the credit check (approved, or held for finance)."""
    order = purchase_order
    matched = rules_matching(order)
    if not matched:
        return purchase_order_credit_check(purchase_order=order, note="no approval rule applies")
    steps = sorted({rule.step for rule, _ in matched})
    for rule, reason in matched:
        request = ApprovalRequest.objects.create(
            purchase_order=order,
            rule=rule,
            step=rule.step,
            reason=reason[:300],
            approver_role=rule.approver_role,
            status=ApprovalRequest.Status.PENDING
            if rule.step == steps[0]
            else ApprovalRequest.Status.WAITING,
        )
        request.approvers.set(rule.approvers.all())
    order = orders.purchase_order_request_approval(
        purchase_order=order, note="; ".join(reason for _, reason in matched)
    )
    _notify_step(order, steps[0])
    return order


OPEN = (ApprovalRequest.Status.PENDING, ApprovalRequest.Status.WAITING)


def approval_requests_withdraw(
    *, purchase_order: PurchaseOrder, note: str = "withdrawn: the order was cancelled"
) -> int:
    """The order was cancelled: its undecided steps close as withdrawn and leave every approver's queue.
    Called inside the cancel's transaction; returns how many steps were closed."""
    return ApprovalRequest.objects.filter(purchase_order=purchase_order, status__in=OPEN).update(
        status=ApprovalRequest.Status.WITHDRAWN, comment=note[:500], updated_at=timezone.now()
    )


def _order_cancelled(*, purchase_order: PurchaseOrder, actor: User | None, note: str) -> None:
    """The approvals gate on a cancel: the order's undecided steps leave the approvers' queues (the
    steps say "withdrawn: the order was cancelled", whatever the buyer wrote)."""
    approval_requests_withdraw(purchase_order=purchase_order)


# Registered in ApprovalsConfig.ready(): submitted orders are routed here, cancelled ones withdrawn.
GATE = Gate(name="approvals", route=approval_route, order_cancelled=_order_cancelled)


@transaction.atomic
def approval_decide(
    *, request: ApprovalRequest, actor: User, approve: bool, comment: str = ""
) -> ApprovalRequest:
    # The order first, then the step: the order of locks purchase_order_cancel takes, so a decision and a
    # cancel at the same time queue up (no deadlock) and whichever comes second sees what the first did.
    order_id = ApprovalRequest.objects.values_list("purchase_order_id", flat=True).get(pk=request.pk)
    order = PurchaseOrder.objects.select_for_update().select_related("company").get(pk=order_id)
    request = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
    request.purchase_order = order
    if order.status != Status.AWAITING_APPROVAL:
        raise ApprovalError(
            f"Order {order.customer_po_number} is {order.get_status_display().lower()}: "
            "it no longer waits for an approval, and nothing was changed."
        )
    if request.status != ApprovalRequest.Status.PENDING:
        raise ApprovalError("This step is not waiting for a decision.")
    if actor.pk == order.submitted_by_id:
        raise InvalidTransition("Whoever submitted an order cannot approve it.")
    if not eligible(request, actor):
        raise ApprovalError("You are not an approver of this step.")
    if not approve and not comment.strip():
        raise ApprovalError("Say why you reject the order; the buyer is told.")
    request.status = ApprovalRequest.Status.APPROVED if approve else ApprovalRequest.Status.REJECTED
    request.decided_by, request.decided_at, request.comment = actor, timezone.now(), comment.strip()[:500]
    request.save(update_fields=["status", "decided_by", "decided_at", "comment", "updated_at"])
    if not approve:
        ApprovalRequest.objects.filter(purchase_order=order, status__in=OPEN).update(
            status=ApprovalRequest.Status.REJECTED, comment="closed: the order was rejected"
        )
        orders.purchase_order_reject(purchase_order=order, actor=actor, note=comment)
        _notify_buyer(
            order, f"Order {order.customer_po_number} was rejected", f"{actor} rejected it: {comment}\n"
        )
        return request
    open_requests = ApprovalRequest.objects.filter(purchase_order=order, status__in=OPEN)
    if open_requests.filter(status=ApprovalRequest.Status.PENDING).exists():
        return request  # another rule of this step still waits for its approver
    waiting = open_requests.order_by("step").first()
    if waiting is not None:
        open_requests.filter(step=waiting.step).update(status=ApprovalRequest.Status.PENDING)
        _notify_step(order, waiting.step)
        return request
    order = purchase_order_credit_check(purchase_order=order, actor=actor, note=comment)
    if order.status == PurchaseOrder.Status.APPROVED:
        _notify_buyer(
            order, f"Order {order.customer_po_number} was approved", f"{actor} approved it. {comment}\n"
        )
    return request


# --- Rules (the company admin's) ---------------------------------------------------------------------------


@transaction.atomic
def approval_rule_create(
    *,
    company: Company,
    name: str,
    condition: str,
    step: int = 1,
    amount: Decimal | None = None,
    line_count: int | None = None,
    categories: Iterable[Category] = (),
    approver_role: str = "",
    approvers: Iterable[User] = (),
) -> ApprovalRule:
    """A new rule of the company's; orders submitted from now on meet it."""
    rule = ApprovalRule(
        company=company,
        name=name,
        step=step,
        condition=condition,
        amount=amount,
        line_count=line_count,
        approver_role=approver_role,
    )
    rule.full_clean()
    rule.save()
    rule.categories.set(categories)
    rule.approvers.set(approvers)
    return rule


def _rule_locked(company: Company, rule_id: int) -> ApprovalRule:
    rule = ApprovalRule.objects.select_for_update().filter(company=company, pk=rule_id).first()
    if rule is None:
        raise ApprovalRuleNotFound("No such rule in your company.")
    return rule


@transaction.atomic
def approval_rule_toggle(*, company: Company, rule_id: int) -> ApprovalRule:
    """Turn a rule of the company's off, or on again; orders already waiting keep their steps."""
    rule = _rule_locked(company, rule_id)
    rule.is_active = not rule.is_active
    rule.save(update_fields=["is_active", "updated_at"])
    return rule


@transaction.atomic
def approval_rule_delete(*, company: Company, rule_id: int) -> ApprovalRule:
    """Remove a rule of the company's (returned, unsaved); orders already waiting keep their steps."""
    rule = _rule_locked(company, rule_id)
    rule.delete()
    return rule
