"""Statements of account: one company's invoices, credit notes and payments over a period, with the
balance before, after and along the way, and the aging at the period's end.

Payments are the invoice's payments as the ERP booked them (``InvoicePayment``, each on its own day)
where the ERP's invoice pull reads them. What is paid of an invoice (``amount_paid``) beyond its stored
payments (all of it for an ERP that reads none, or an invoice not pulled since) is derived: one payment
line for that amount, dated the day (in the company's time zone) the ERP last changed the invoice. A
statement with a derived line says so in its notes (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from apps.accounts.models import Company, ShipToAddress
from apps.core import money
from apps.credit.models import CreditAccount, Invoice, InvoicePayment
from apps.credit.selectors import Aging, aging_compute

ZERO = Decimal("0.00")
MAX_PERIOD_DAYS = 366
INVOICE, CREDIT_NOTE, PAYMENT, REFUND = "invoice", "credit_note", "payment", "refund"
KIND_LABELS = {INVOICE: "Invoice", CREDIT_NOTE: "Credit note", PAYMENT: "Payment", REFUND: "Credit used"}
DERIVED_PAYMENTS_NOTE = (
    "Payments are shown as the amount paid on each document where the ERP does not list them (or not all "
    "of them), dated the day the ERP last recorded a change to the document; part payments of such a "
    "document appear as one line."
)


@dataclass(frozen=True)
class StatementLine:
    day: date
    kind: str
    reference: str
    due_date: date | None
    amount: Decimal  # what the customer owes more (invoices) or less (credit notes, payments)
    balance: Decimal = ZERO
    derived: bool = False  # a payment line derived from what is paid, not a payment the ERP booked

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class Party:
    name: str
    address_lines: list[str]
    extra_lines: list[str] = field(default_factory=list)


@dataclass
class Statement:
    company: Company
    customer: Party
    wholesaler: Party
    start: date
    end: date
    currency: str
    opening: Decimal
    lines: list[StatementLine]
    closing: Decimal
    aging: Aging
    generated_at: datetime
    notes: list[str]

    @property
    def invoiced(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == INVOICE), ZERO)

    @property
    def credited(self) -> Decimal:
        return -sum((line.amount for line in self.lines if line.kind != INVOICE), ZERO)

    @property
    def filename(self) -> str:
        code = self.company.erp_customer_code or f"company-{self.company.pk}"
        return f"statement-{code}-{self.start:%Y%m%d}-{self.end:%Y%m%d}.pdf"


def last_full_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def company_today(company: Company) -> date:
    return timezone.localtime(timezone.now(), ZoneInfo(company.time_zone)).date()


def _payment_day(invoice: Invoice, zone: ZoneInfo) -> date:
    stamp = invoice.erp_updated_at or invoice.updated_at
    return timezone.localtime(stamp, zone).date()


def _entries(invoice: Invoice, zone: ZoneInfo) -> list[StatementLine]:
    """The document itself, its payments (or the credit used of a credit note) as the ERP booked them,
    and, for what is paid of it beyond those, one derived payment line."""
    assert invoice.invoice_date is not None  # noqa: S101 - posted documents have a date (query)
    credit_note = invoice.total_amount < 0
    reference = invoice.number or invoice.erp_id
    payment_kind = REFUND if credit_note else PAYMENT
    entries = [
        StatementLine(
            day=invoice.invoice_date,
            kind=CREDIT_NOTE if credit_note else INVOICE,
            reference=reference,
            due_date=invoice.due_date,
            amount=invoice.total_amount,
        )
    ]
    payments = list(invoice.payments.all())
    entries += [
        StatementLine(
            day=payment.paid_on, kind=payment_kind, reference=reference, due_date=None, amount=-payment.amount
        )
        for payment in payments
    ]
    rest = invoice.amount_paid - sum((payment.amount for payment in payments), ZERO)
    if rest:
        entries.append(
            StatementLine(
                day=max(_payment_day(invoice, zone), invoice.invoice_date),
                kind=payment_kind,
                reference=reference,
                due_date=None,
                amount=-rest,
                derived=True,
            )
        )
    return entries


def _customer(company: Company) -> Party:
    address = (
        ShipToAddress.objects.filter(company=company, is_active=True).order_by("-is_default", "id").first()
    )
    lines = []
    if address is not None:
        lines = [
            part
            for part in [
                address.street,
                address.street_2,
                f"{address.postal_code} {address.city}".strip(),
                address.region,
                address.country,
            ]
            if part
        ]
    extra = [f"Customer code: {company.erp_customer_code or 'not in the ERP yet'}"]
    if company.tax_identifier:
        extra.append(f"Tax ID: {company.tax_identifier}")
    if company.billing_email:
        extra.append(company.billing_email)
    return Party(company.name, lines, extra)


def wholesaler() -> Party:
    """The portal operator's details (PORTAL_COMPANY_* settings)."""
    address = [part.strip() for part in str(settings.PORTAL_COMPANY_ADDRESS).split(";") if part.strip()]
    extra = [part.strip() for part in str(settings.PORTAL_COMPANY_CONTACT).split(";") if part.strip()]
    return Party(str(settings.PORTAL_COMPANY_NAME), address, extra)


def statement_get(*, company: Company, start: date, end: date) -> Statement:
    """The company's statement from ``start`` to ``end`` (inclusive, the company's days), in its
    credit account's currency; four queries for the account, the documents, their payments and the
    address."""
    zone = ZoneInfo(company.time_zone)
    account = CreditAccount.objects.filter(company=company).first()
    currency = account.currency if account else money.DEFAULT_CURRENCY
    documents = (
        Invoice.objects.filter(
            company=company,
            state__in=[Invoice.State.POSTED, Invoice.State.PAID],
            invoice_date__isnull=False,
            invoice_date__lte=end,
            currency=currency,
        )
        .only("erp_id", "number", "invoice_date", "due_date", "total_amount", "amount_paid", "erp_updated_at")
        .order_by("invoice_date", "id")
        .prefetch_related(
            Prefetch("payments", queryset=InvoicePayment.objects.only("invoice_id", "paid_on", "amount"))
        )
    )
    opening = ZERO
    derived = False
    in_period: list[StatementLine] = []
    open_at_end: list[tuple[date | None, Decimal]] = []
    for invoice in documents:
        entries = _entries(invoice, zone)
        due_at_end = ZERO
        for entry in entries:
            derived = derived or (entry.derived and entry.day <= end)
            if entry.day < start:
                opening += entry.amount
            elif entry.day <= end:
                in_period.append(entry)
            if entry.day <= end:
                due_at_end += entry.amount
        if due_at_end:
            open_at_end.append((invoice.due_date, due_at_end))
    in_period.sort(key=lambda line: (line.day, line.kind in (PAYMENT, REFUND), line.reference))
    balance = opening
    lines = []
    for line in in_period:
        balance += line.amount
        lines.append(
            StatementLine(
                line.day, line.kind, line.reference, line.due_date, line.amount, balance, line.derived
            )
        )
    notes = [DERIVED_PAYMENTS_NOTE] if derived else []
    other = (
        Invoice.objects.filter(company=company, state__in=[Invoice.State.POSTED, Invoice.State.PAID])
        .exclude(currency=currency)
        .exists()
    )
    if other:
        notes.append(f"Documents in currencies other than {currency} are not on this statement.")
    return Statement(
        company=company,
        customer=_customer(company),
        wholesaler=wholesaler(),
        start=start,
        end=end,
        currency=currency,
        opening=opening,
        lines=lines,
        closing=balance,
        aging=aging_compute(open_at_end, today=end),
        generated_at=timezone.localtime(timezone.now(), zone),
        notes=notes,
    )
