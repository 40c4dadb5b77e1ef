"""Credit reads: exposure, available credit and invoice aging, for one company or many in a few queries.

Exposure = unpaid invoices + approved orders not yet invoiced (+ orders still in the flow, when
``CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW``); available credit = limit - exposure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from apps.accounts.models import Company
from apps.core import money
from apps.credit.models import CreditAccount, CreditHold, Invoice, InvoiceLine
from apps.purchase_orders.models import PurchaseOrder

Status = PurchaseOrder.Status
ZERO = Decimal("0.00")

# Approved for the ERP but not invoiced yet: the customer owes these once they ship.
NOT_INVOICED = (
    Status.APPROVED,
    Status.SENT_TO_ERP,
    Status.ACCEPTED,
    Status.PARTIALLY_SHIPPED,
    Status.SHIPPED,
)
# Submitted and still being decided on (by the company's approvers or by finance).
IN_FLOW = (Status.SUBMITTED, Status.AWAITING_APPROVAL, Status.CREDIT_HOLD)

# (key, label, first day past due, last day past due); None is open-ended.
BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("current", "Current", 0, 0),
    ("1_30", "1-30 days", 1, 30),
    ("31_60", "31-60 days", 31, 60),
    ("61_90", "61-90 days", 61, 90),
    ("90_plus", "Over 90 days", 91, None),
)
BUCKET_KEYS = tuple(key for key, *_ in BUCKETS)


def days_past_due(due_date: date | None, today: date) -> int:
    """Whole days since the due date; 0 when not due yet, due today or without a due date."""
    if due_date is None:
        return 0
    return max((today - due_date).days, 0)


def aging_bucket(days: int) -> str:
    for key, _, first, last in BUCKETS:
        if days >= first and (last is None or days <= last):
            return key
    raise ValueError(f"negative days past due: {days}")


@dataclass(frozen=True)
class AgingRow:
    key: str
    label: str
    amount: Decimal
    count: int


@dataclass
class Aging:
    """Open amounts by how long past due they are. Every open invoice is in exactly one bucket."""

    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKET_KEYS, ZERO))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKET_KEYS, 0))

    def add(self, due_date: date | None, amount_due: Decimal, today: date) -> None:
        key = aging_bucket(days_past_due(due_date, today))
        self.amounts[key] += amount_due
        self.counts[key] += 1

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)

    @property
    def past_due(self) -> Decimal:
        return self.total - self.amounts["current"]

    @property
    def rows(self) -> list[AgingRow]:
        return [AgingRow(key, label, self.amounts[key], self.counts[key]) for key, label, *_ in BUCKETS]


def aging_compute(items: Iterable[tuple[date | None, Decimal]], *, today: date) -> Aging:
    """``items`` are (due date, amount still due) of open invoices."""
    aging = Aging()
    for due_date, amount_due in items:
        aging.add(due_date, amount_due, today)
    return aging


@dataclass(frozen=True)
class PastDue:
    """Open invoices more than ``tolerance_days`` past due: these send new orders to finance."""

    tolerance_days: int
    count: int = 0
    amount: Decimal = ZERO
    oldest_days: int = 0


@dataclass
class CreditPosition:
    company_id: int
    currency: str
    credit_limit: Decimal | None
    payment_term: str
    tolerance_days: int
    includes_orders_in_flow: bool
    open_invoices: Decimal = ZERO
    orders_not_invoiced: Decimal = ZERO
    orders_in_flow: Decimal = ZERO
    aging: Aging = field(default_factory=Aging)
    past_due: PastDue = field(default_factory=lambda: PastDue(0))

    @property
    def exposure(self) -> Decimal:
        in_flow = self.orders_in_flow if self.includes_orders_in_flow else ZERO
        return self.open_invoices + self.orders_not_invoiced + in_flow

    @property
    def has_limit(self) -> bool:
        return self.credit_limit is not None

    @property
    def available(self) -> Decimal | None:
        return None if self.credit_limit is None else self.credit_limit - self.exposure

    def percent_used(self, extra: Decimal = ZERO) -> int | None:
        """Share of the limit used with ``extra`` more (a draft's total), in whole percent, rounded down."""
        if self.credit_limit is None:
            return None
        used = self.exposure + extra
        if self.credit_limit <= 0:
            return 100 if used > 0 else 0
        return int(used * 100 // self.credit_limit)

    def fits(self, amount: Decimal) -> bool:
        return self.credit_limit is None or self.exposure + amount <= self.credit_limit


def credit_positions(
    *, company_ids: Iterable[int], today: date | None = None, exclude_order_id: int | None = None
) -> dict[int, CreditPosition]:
    """Each company's credit position, in three queries whatever the number of companies."""
    ids = sorted(set(company_ids))
    today = today or timezone.localdate()
    includes_in_flow = bool(settings.CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW)
    accounts = {
        account.company_id: account
        for account in CreditAccount.objects.filter(company_id__in=ids).select_related("payment_term")
    }
    positions: dict[int, CreditPosition] = {}
    for company_id in ids:
        account = accounts.get(company_id)
        tolerance = account.tolerance_days if account else int(settings.CREDIT_PAST_DUE_TOLERANCE_DAYS)
        positions[company_id] = CreditPosition(
            company_id=company_id,
            currency=account.currency if account else money.DEFAULT_CURRENCY,
            credit_limit=account.credit_limit if account else None,
            payment_term=account.payment_term.name if account and account.payment_term else "",
            tolerance_days=tolerance,
            includes_orders_in_flow=includes_in_flow,
            past_due=PastDue(tolerance),
        )
    open_rows: dict[int, list[tuple[date | None, Decimal]]] = defaultdict(list)
    for company_id, due_date, total, paid in (
        Invoice.objects.open()
        .filter(company_id__in=ids)
        .values_list("company_id", "due_date", "total_amount", "amount_paid")
    ):
        open_rows[company_id].append((due_date, total - paid))
    for company_id, rows in open_rows.items():
        position = positions[company_id]
        position.aging = aging_compute(rows, today=today)
        position.open_invoices = position.aging.total
        late = [
            (days_past_due(due, today), amount)
            for due, amount in rows
            if days_past_due(due, today) > position.tolerance_days and amount > 0
        ]
        if late:
            position.past_due = PastDue(
                tolerance_days=position.tolerance_days,
                count=len(late),
                amount=sum((amount for _, amount in late), ZERO),
                oldest_days=max(days for days, _ in late),
            )
    orders = _orders_counted().filter(company_id__in=ids)
    if exclude_order_id is not None:
        orders = orders.exclude(pk=exclude_order_id)
    for row in orders.values("company_id", "status").annotate(total=Sum("total_amount")).order_by():
        position = positions[row["company_id"]]
        # SQLite sums decimals as floats: round back to the currency's precision.
        total = money.quantize_amount(Decimal(row["total"] or 0), position.currency)
        if row["status"] in IN_FLOW:
            position.orders_in_flow += total
        else:
            position.orders_not_invoiced += total
    return positions


def _orders_counted() -> QuerySet[PurchaseOrder]:
    """Orders that take credit but have no invoice in the mirror yet.

    An order the ERP reports invoiced counts until its invoice is mirrored posted (or paid), so the
    amount never drops out of exposure between the two streams (nor while the mirror still has the
    invoice as a draft).
    """
    mirrored = Invoice.purchase_orders.through.objects.filter(
        purchaseorder_id=OuterRef("pk"), invoice__state__in=[Invoice.State.POSTED, Invoice.State.PAID]
    )
    return PurchaseOrder.objects.filter(
        Q(status__in=[*NOT_INVOICED, *IN_FLOW]) | (Q(status=Status.INVOICED) & ~Exists(mirrored))
    )


def credit_position_get(
    *, company: Company, today: date | None = None, exclude_order_id: int | None = None
) -> CreditPosition:
    return credit_positions(company_ids=[company.pk], today=today, exclude_order_id=exclude_order_id)[
        company.pk
    ]


def invoice_list(*, company: Company, state: str = "") -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(company=company).exclude(state=Invoice.State.CANCELLED)
    if state == "open":
        return invoices.filter(state=Invoice.State.POSTED).order_by("due_date", "id")
    if state:
        invoices = invoices.filter(state=state)
    return invoices.order_by("-invoice_date", "-id")


def invoice_get(*, company: Company, invoice_id: int) -> Invoice:
    """One of the company's invoices (any state) with its orders; Invoice.DoesNotExist when it is not
    the company's. Its lines: ``invoice_lines``."""
    return Invoice.objects.prefetch_related("purchase_orders").get(company=company, pk=invoice_id)


def invoice_lines(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return invoice.lines.select_related("product").order_by("position")


def credit_hold_queue() -> QuerySet[CreditHold]:
    """Open holds, oldest first, with what a finance row shows."""
    return (
        CreditHold.objects.filter(status=CreditHold.Status.OPEN)
        .select_related("company", "purchase_order", "purchase_order__submitted_by")
        .order_by("created_at", "id")
    )


def credit_hold_decided(*, limit: int = 20) -> QuerySet[CreditHold]:
    return (
        CreditHold.objects.exclude(status=CreditHold.Status.OPEN)
        .select_related("company", "purchase_order", "decided_by")
        .order_by("-decided_at", "-updated_at")[:limit]
    )


@dataclass(frozen=True)
class CreditMeter:
    """What the buyer's credit meter shows for a draft of ``order_amount``."""

    position: CreditPosition
    order_amount: Decimal
    level: str  # "none" (no limit) | "ok" | "warning" (from CREDIT_WARNING_PERCENT) | "over" (past the limit)
    percent: int | None
    warning_at: Decimal | None

    @property
    def used_with_order(self) -> Decimal:
        return self.position.exposure + self.order_amount

    @property
    def available_after(self) -> Decimal | None:
        available = self.position.available
        return None if available is None else available - self.order_amount

    @property
    def over_by(self) -> Decimal:
        after = self.available_after
        return -after if after is not None and after < 0 else ZERO


def credit_meter(*, position: CreditPosition, order_amount: Decimal) -> CreditMeter:
    limit = position.credit_limit
    if limit is None:
        return CreditMeter(position, order_amount, "none", None, None)
    warning_percent = int(settings.CREDIT_WARNING_PERCENT)
    percent = position.percent_used(order_amount)
    assert percent is not None  # noqa: S101 - a limit is set
    used = position.exposure + order_amount
    if used > limit:
        level = "over"
    elif used * 100 >= limit * warning_percent:
        level = "warning"
    else:
        level = "ok"
    warning_at = money.quantize_amount(limit * warning_percent / 100, position.currency)
    return CreditMeter(position, order_amount, level, percent, warning_at)
