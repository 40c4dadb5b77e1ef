"""Credit writes: the check an order passes after its buyer-side approvals, and finance's decisions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Company, StaffRole
from apps.accounts.selectors import staff_emails
from apps.core.mail import mail_on_commit
from apps.credit import erp
from apps.credit.exceptions import CreditError
from apps.credit.models import CreditAccount, CreditHold
from apps.credit.selectors import CreditPosition, credit_position_get
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import order_cancel_enqueue
from apps.purchase_orders.gates import Gate
from apps.purchase_orders.models import PurchaseOrder

Status = PurchaseOrder.Status
Reason = CreditHold.Reason


@dataclass(frozen=True)
class CreditVerdict:
    """What the credit check found: no reasons means the order may go."""

    position: CreditPosition
    order_amount: Decimal
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return not self.reasons

    @property
    def message(self) -> str:
        return "; ".join(self.messages)


def credit_verdict(*, company: Company, position: CreditPosition, amount: Decimal) -> CreditVerdict:
    """Pure: the reasons an order of ``amount`` must wait for finance, given the company's position."""
    reasons: list[str] = []
    texts: list[str] = []
    currency = position.currency
    if company.is_on_hold:
        reasons.append(Reason.COMPANY_ON_HOLD)
        texts.append(f"{company.name} is on hold: {company.hold_reason or 'ask finance'}")
    past_due = position.past_due
    if past_due.count:
        beyond = f"more than {past_due.tolerance_days} days " if past_due.tolerance_days else ""
        texts.append(
            f"{past_due.count} invoice{'s' if past_due.count != 1 else ''} {beyond}past due "
            f"({past_due.amount} {currency}, the oldest {past_due.oldest_days} days)"
        )
        reasons.append(Reason.PAST_DUE)
    if not position.fits(amount):
        assert position.credit_limit is not None  # noqa: S101 - fits() is True without a limit
        over = position.exposure + amount - position.credit_limit
        texts.append(
            f"this order ({amount} {currency}) would take the account over its credit limit of "
            f"{position.credit_limit} {currency} by {over} {currency} (already used {position.exposure})"
        )
        reasons.append(Reason.OVER_LIMIT)
    return CreditVerdict(position=position, order_amount=amount, reasons=reasons, messages=texts)


@transaction.atomic
def purchase_order_credit_check(
    *, purchase_order: PurchaseOrder, actor: User | None = None, note: str = ""
) -> PurchaseOrder:
    """The last step before the ERP: approve the order, or hold it for finance.

    The order's and the company's rows are locked (before exposure is read), so two orders of one
    company are checked one after the other: the second sees the first one's amount (committed,
    approved or held) in the exposure, and orders submitted at the same moment can never pass the limit
    together unseen.
    """
    order = _locked(purchase_order)
    company = order.company
    if order.status not in (Status.SUBMITTED, Status.AWAITING_APPROVAL):
        raise CreditError(f"A {order.get_status_display().lower()} order is not waiting for a credit check.")
    amount = order.total_amount or Decimal("0.00")
    position = credit_position_get(company=company, exclude_order_id=order.pk)
    verdict = credit_verdict(company=company, position=position, amount=amount)
    if verdict.passes:
        within = (
            f"within credit: {position.available - amount} {position.currency} left"
            if position.available is not None
            else "no credit limit"
        )
        return orders.purchase_order_approve(
            purchase_order=order, actor=actor, note="; ".join(text for text in (note, within) if text)
        )
    return _hold(order, position, list(verdict.reasons), verdict.message).purchase_order


def _locked(purchase_order: PurchaseOrder) -> PurchaseOrder:
    """The order with its company, both rows locked in one statement, in the order every order
    transition takes them (``purchase_orders.services``), so the two never deadlock."""
    return PurchaseOrder.objects.select_for_update().select_related("company").get(pk=purchase_order.pk)


def _hold(order: PurchaseOrder, position: CreditPosition, reasons: list[str], message: str) -> CreditHold:
    """Put a locked order on credit hold with the credit picture finance decides on; tell everyone."""
    hold = CreditHold.objects.create(
        purchase_order=order,
        company=order.company,
        reasons=reasons,
        message=message[:1000],
        currency=position.currency,
        order_amount=order.total_amount or Decimal("0.00"),
        credit_limit=position.credit_limit,
        exposure=position.exposure,
        past_due_amount=position.past_due.amount,
        oldest_past_due_days=position.past_due.oldest_days,
    )
    hold.purchase_order = orders.purchase_order_hold(
        purchase_order=order, note=f"credit hold: {hold.message}"
    )
    _notify_hold(hold)
    return hold


def _finance_emails() -> list[str]:
    return list(settings.CREDIT_HOLD_EMAILS) or staff_emails(role=StaffRole.FINANCE)


def _buyer_emails(order: PurchaseOrder) -> list[str]:
    return sorted({person.email for person in (order.submitted_by, order.buyer) if person is not None})


def _notify_hold(hold: CreditHold) -> None:
    order = hold.purchase_order
    mail_on_commit(
        subject=f"Order {order.customer_po_number} is waiting for a credit review",
        body=f"Your order {order.customer_po_number} ({hold.order_amount} {hold.currency}) is on credit "
        f"hold: {hold.message}.\nFinance reviews it and you will hear back by email.\n",
        recipients=_buyer_emails(order),
    )
    mail_on_commit(
        subject=f"Credit hold: {hold.company.name}, order {order.customer_po_number}",
        body=f"{hold.company.name} order {order.customer_po_number} ({hold.order_amount} {hold.currency}) "
        f"waits for your decision: {hold.message}.\nQueue: {reverse('finance-holds')}\n",
        recipients=_finance_emails(),
    )


@transaction.atomic
def credit_hold_release(*, hold: CreditHold, actor: User, note: str) -> CreditHold:
    """Finance lets the order go: it is approved and pushed so that the ERP accepts its credit overrun
    for this sale only."""
    hold = _decide(hold, actor, note, CreditHold.Status.RELEASED)
    order = orders.purchase_order_approve(
        purchase_order=hold.purchase_order, actor=actor, note=f"credit hold released: {hold.decision_note}"
    )
    mail_on_commit(
        subject=f"Order {order.customer_po_number} was released by finance",
        body=f"{actor.get_full_name() or actor.email} released your order {order.customer_po_number} from "
        f"credit hold: {hold.decision_note}\nIt is on its way to our ERP.\n",
        recipients=_buyer_emails(order),
    )
    return hold


@transaction.atomic
def credit_hold_reject(*, hold: CreditHold, actor: User, note: str) -> CreditHold:
    """Finance refuses the order: it is rejected and never reaches the ERP."""
    hold = _decide(hold, actor, note, CreditHold.Status.REJECTED)
    order = orders.purchase_order_reject(
        purchase_order=hold.purchase_order, actor=actor, note=f"refused by finance: {hold.decision_note}"
    )
    if Reason.ERP_REFUSED in hold.reasons:
        # The ERP has the sale as a quotation (its credit check stopped the confirm): cancel it there.
        order_cancel_enqueue(order)
    mail_on_commit(
        subject=f"Order {order.customer_po_number} was refused by finance",
        body=f"Finance refused your order {order.customer_po_number} ({hold.order_amount} {hold.currency}): "
        f"{hold.decision_note}\n",
        recipients=_buyer_emails(order),
    )
    return hold


def _decide(hold: CreditHold, actor: User, note: str, outcome: CreditHold.Status) -> CreditHold:
    note = " ".join(note.split())
    if not note:
        verb = "release" if outcome == CreditHold.Status.RELEASED else "refuse"
        raise CreditError(f"Say why you {verb} the order; the buyer is told and it is kept for audit.")
    hold = CreditHold.objects.select_for_update().select_related("purchase_order", "company").get(pk=hold.pk)
    if hold.status != CreditHold.Status.OPEN:
        by = f" by {hold.decided_by.email}" if hold.decided_by else ""
        raise CreditError(
            f"Order {hold.purchase_order.customer_po_number} was already decided{by}: "
            f"{hold.get_status_display().lower()}."
        )
    if hold.purchase_order.status != Status.CREDIT_HOLD:
        raise CreditError(
            f"Order {hold.purchase_order.customer_po_number} is "
            f"{hold.purchase_order.get_status_display().lower()}, no longer on credit hold."
        )
    hold.status = outcome
    hold.decided_by = actor
    hold.decided_at = timezone.now()
    hold.decision_note = note[:500]
    hold.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    return hold


@dataclass
class BulkOutcome:
    decided: list[CreditHold] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (hold id, why)


def credit_holds_decide(*, hold_ids: Iterable[int], actor: User, release: bool, note: str) -> BulkOutcome:
    """Release or refuse several holds with one reason; each is its own transaction, so one that was
    decided meanwhile is reported and the others go on."""
    if not " ".join(note.split()):
        verb = "release" if release else "refuse"
        raise CreditError(f"Say why you {verb} these orders; the buyers are told and it is kept for audit.")
    outcome = BulkOutcome()
    decide = credit_hold_release if release else credit_hold_reject
    for hold in CreditHold.objects.filter(pk__in=set(hold_ids)).order_by("created_at", "id"):
        try:
            outcome.decided.append(decide(hold=hold, actor=actor, note=note))
        except CreditError as exc:
            outcome.refused.append((hold.pk, exc.message))
    return outcome


def credit_hold_withdraw(
    *, purchase_order: PurchaseOrder, actor: User | None, note: str = "the buyer cancelled the order"
) -> None:
    """The order on hold was cancelled (by the buyer, or in the ERP): the hold leaves finance's queue.
    Called inside the cancel's transaction."""
    now = timezone.now()
    CreditHold.objects.filter(purchase_order=purchase_order, status=CreditHold.Status.OPEN).update(
        status=CreditHold.Status.CANCELLED,
        decided_by=actor,
        decided_at=now,
        decision_note=note,
        updated_at=now,
    )


def credit_hold_settle_in_erp(*, purchase_order: PurchaseOrder, note: str) -> None:
    """Someone in the ERP confirmed the held sale themselves: the hold leaves finance's queue, saying so."""
    now = timezone.now()
    CreditHold.objects.filter(purchase_order=purchase_order, status=CreditHold.Status.OPEN).update(
        status=CreditHold.Status.SETTLED_IN_ERP, decided_at=now, decision_note=note[:500], updated_at=now
    )


@transaction.atomic
def credit_account_tolerance_set(*, account: CreditAccount, days: int | None) -> CreditAccount:
    """Finance's own past-due tolerance for one customer (None: the portal's default)."""
    account = CreditAccount.objects.select_for_update().get(pk=account.pk)
    account.past_due_tolerance_days = days
    account.full_clean()
    account.save(update_fields=["past_due_tolerance_days", "updated_at"])
    return account


@transaction.atomic
def purchase_order_erp_credit_refused(*, purchase_order: PurchaseOrder, message: str) -> CreditHold | None:
    """The ERP's own credit check refused an order the portal approved (it knows exposure the portal
    does not, e.g. sales entered in the ERP): the order goes to finance's queue instead of failing
    silently. A released order refused again stays approved, with its failed job on the monitor."""
    order = _locked(purchase_order)
    if order.status != Status.APPROVED or CreditHold.objects.filter(purchase_order=order).exists():
        return None
    position = credit_position_get(company=order.company, exclude_order_id=order.pk)
    return _hold(order, position, [Reason.ERP_REFUSED], f"the ERP's credit check refused it: {message}")


# --- The credit gate (``apps.purchase_orders.gates``) ------------------------------------------------------


def _order_cancelled(*, purchase_order: PurchaseOrder, actor: User | None, note: str) -> None:
    """An order on credit hold was cancelled by its buyer: the hold leaves finance's queue (saying the
    buyer cancelled it, whatever the buyer wrote). Called with the order locked, before it moves."""
    if purchase_order.status == Status.CREDIT_HOLD:
        credit_hold_withdraw(purchase_order=purchase_order, actor=actor)


def _order_decided_in_erp(*, purchase_order: PurchaseOrder, to: str, note: str) -> None:
    """Someone in the ERP cancelled or confirmed an order on credit hold: the hold is withdrawn or
    settled in the ERP."""
    if to == Status.CANCELLED:
        credit_hold_withdraw(purchase_order=purchase_order, actor=None, note=f"cancelled in the ERP: {note}")
    else:
        credit_hold_settle_in_erp(purchase_order=purchase_order, note=f"confirmed in the ERP: {note}")


def credit_gate() -> Gate:
    """The credit gate, registered in CreditConfig.ready(): holds follow a cancelled order or the ERP's
    decision here; the answers on pushes are credit's ERP side (apps/credit/erp.py)."""
    return Gate(
        name="credit",
        order_cancelled=_order_cancelled,
        order_decided_in_erp=_order_decided_in_erp,
        credit_overrun_accepted=erp.credit_overrun_accepted,
        erp_credit_refused=erp.erp_credit_refused,
    )
