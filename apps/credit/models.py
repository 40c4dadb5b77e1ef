from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Company
from apps.core import money
from apps.core.models import TimeStampedModel


def _amount(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS,
        decimal_places=money.AMOUNT_DECIMAL_PLACES,
        **kwargs,  # type: ignore[arg-type]
    )


class PaymentTerm(TimeStampedModel):
    """A payment term as the ERP defines it (Net 30, Net 60, Prepaid, …); mirrored, never edited here."""

    erp_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    net_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days the customer has to pay; 0 is prepaid or on receipt."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_prepaid(self) -> bool:
        return self.net_days == 0


class CreditAccount(TimeStampedModel):
    """The customer's credit standing; the limit and payment term come from the ERP."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="credit_account")
    payment_term = models.ForeignKey(
        PaymentTerm, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_limit = _amount(null=True, blank=True, help_text="From the ERP; empty: the ERP sets no limit.")
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    # Portal-owned: finance's own tolerance for this customer (empty: CREDIT_PAST_DUE_TOLERANCE_DAYS).
    past_due_tolerance_days = models.PositiveIntegerField(
        "past-due tolerance (days)",
        null=True,
        blank=True,
        help_text="Orders go to finance when an invoice is more than this many days past due.",
    )

    def __str__(self) -> str:
        return f"Credit of {self.company}"

    @property
    def tolerance_days(self) -> int:
        if self.past_due_tolerance_days is not None:
            return self.past_due_tolerance_days
        return int(settings.CREDIT_PAST_DUE_TOLERANCE_DAYS)


class InvoiceQuerySet(models.QuerySet["Invoice"]):
    def open(self) -> InvoiceQuerySet:
        """Posted and not fully paid: what the customer owes."""
        return self.filter(state=Invoice.State.POSTED)


class Invoice(TimeStampedModel):
    """A customer invoice mirrored from the ERP (which owns it); never edited here."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        VALIDATED = "validated", "Validated"
        POSTED = "posted", "Open"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invoices")
    erp_id = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=64, blank=True)
    invoice_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    total_amount = _amount()
    amount_paid = _amount(default=Decimal("0.00"))
    state = models.CharField(max_length=20, choices=State.choices, db_index=True)
    sale_references = models.JSONField(default=list, blank=True)
    purchase_orders = models.ManyToManyField(
        "purchase_orders.PurchaseOrder", blank=True, related_name="invoices"
    )
    erp_updated_at = models.DateTimeField(null=True, blank=True)

    ERP_FIELDS = [
        "number",
        "invoice_date",
        "due_date",
        "currency",
        "total_amount",
        "amount_paid",
        "state",
        "sale_references",
        "erp_updated_at",
    ]

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-invoice_date", "-id"]
        indexes = [models.Index(fields=["company", "state", "due_date"])]

    def __str__(self) -> str:
        return self.number or f"Draft invoice {self.erp_id}"

    @property
    def amount_due(self) -> Decimal:
        return self.total_amount - self.amount_paid

    def days_past_due(self, today: date) -> int:
        if self.due_date is None:
            return 0
        return max((today - self.due_date).days, 0)


class InvoiceLine(models.Model):
    """A line of a mirrored invoice, as the ERP has it; the invoice's lines are replaced as a whole when
    the ERP's change. ``product``: the catalog's product of ``product_erp_id``, when it has one."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    product_erp_id = models.CharField(max_length=64, blank=True)
    sku = models.CharField("SKU", max_length=64, blank=True)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    unit_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )
    amount = _amount()

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.position}: {self.quantity} {self.sku or self.description[:40]}"


class InvoicePayment(models.Model):
    """A payment of a mirrored invoice, as the ERP booked it (negative: a credit note's refund); an
    invoice's payments are replaced as a whole when the ERP's change."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    paid_on = models.DateField()
    amount = _amount()
    reference = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["invoice", "paid_on", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.amount} on {self.paid_on}"


class CreditHold(TimeStampedModel):
    """An order finance must decide on, with the credit picture at the moment it was held.

    The decision (who, when, why) is the audit record; the order's status history has a row too.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for finance"
        RELEASED = "released", "Released"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"  # the buyer withdrew the order, or the ERP cancelled it
        SETTLED_IN_ERP = "settled_in_erp", "Settled in the ERP"  # the ERP confirmed the sale itself

    class Reason(models.TextChoices):
        OVER_LIMIT = "over_limit", "Over the credit limit"
        PAST_DUE = "past_due", "Invoices past due"
        COMPANY_ON_HOLD = "company_on_hold", "Company on hold"
        ERP_REFUSED = "erp_refused", "Refused by the ERP's credit check"

    purchase_order = models.OneToOneField(
        "purchase_orders.PurchaseOrder", on_delete=models.CASCADE, related_name="credit_hold"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="credit_holds")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    reasons = models.JSONField(default=list, help_text="Reason codes, in the order they were found.")
    message = models.CharField(max_length=1000, help_text="Why, as the buyer and finance read it.")
    # The credit picture when the order was held (the account moves on; the decision was made on this).
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    order_amount = _amount()
    credit_limit = _amount(null=True, blank=True)
    exposure = _amount()
    past_due_amount = _amount(default=Decimal("0.00"))
    oldest_past_due_days = models.PositiveIntegerField(default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "cancelled", "settled_in_erp"]) | Q(decided_by__isnull=False),
                name="credit_hold_decision_has_decider",
            ),
        ]

    def __str__(self) -> str:
        return f"Hold on {self.purchase_order_id}: {self.get_status_display()}"

    @property
    def available_at_hold(self) -> Decimal | None:
        return None if self.credit_limit is None else self.credit_limit - self.exposure

    @property
    def over_by(self) -> Decimal:
        if self.credit_limit is None:
            return Decimal("0.00")
        return max(self.exposure + self.order_amount - self.credit_limit, Decimal("0.00"))

    def reason_labels(self) -> list[str]:
        return [CreditHold.Reason(code).label for code in self.reasons if code in CreditHold.Reason.values]
