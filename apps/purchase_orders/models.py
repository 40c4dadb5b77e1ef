from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Company, ShipToAddress
from apps.catalog.models import Product
from apps.core import money
from apps.core.models import TimeStampedModel


class PurchaseOrder(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # being built by its buyer; prices are live
        SUBMITTED = "submitted", "Submitted"  # prices frozen; the company's rules decide what is next
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"  # the company's approvers decide
        CREDIT_HOLD = "credit_hold", "Credit hold"  # finance decides
        APPROVED = "approved", "Approved"  # cleared to go to the ERP
        SENT_TO_ERP = "sent_to_erp", "Sent to ERP"  # in the outbox or at the ERP, not yet accepted
        ACCEPTED = "accepted", "Accepted"  # the ERP confirmed the sale
        PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
        SHIPPED = "shipped", "Shipped"
        INVOICED = "invoiced", "Invoiced"
        CLOSED = "closed", "Closed"  # final: invoiced and done in the ERP
        REJECTED = "rejected", "Rejected"  # final: refused by an approver, finance or the ERP
        CANCELLED = "cancelled", "Cancelled"  # final: withdrawn by the buyer or cancelled in the ERP

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="purchase_orders")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    customer_po_number = models.CharField(
        "your PO number",
        max_length=50,
        blank=True,
        help_text="Your own purchase order number (unique in your company).",
    )
    ship_to = models.ForeignKey(
        ShipToAddress, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.DRAFT, db_index=True)
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    # Frozen at submit, at the currency's precision.
    total_amount = models.DecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS, decimal_places=money.AMOUNT_DECIMAL_PLACES, null=True, blank=True
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    erp_reference = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "customer_po_number"],
                condition=~Q(customer_po_number=""),
                name="po_number_unique_per_company",
            ),
        ]

    def __str__(self) -> str:
        return self.customer_po_number or f"Draft {self.pk}"

    def can_transition_to(self, status: str) -> bool:
        return status in TRANSITIONS[PurchaseOrder.Status(self.status)]

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[PurchaseOrder.Status(self.status)]


S = PurchaseOrder.Status

# Every allowed move, and only those. A state with no way out is final.
TRANSITIONS: dict[PurchaseOrder.Status, frozenset[PurchaseOrder.Status]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.AWAITING_APPROVAL, S.CREDIT_HOLD, S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.AWAITING_APPROVAL: frozenset({S.CREDIT_HOLD, S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.CREDIT_HOLD: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    # Back to finance when the ERP's own credit check refuses an order the portal's check let through.
    S.APPROVED: frozenset({S.SENT_TO_ERP, S.CREDIT_HOLD, S.CANCELLED}),
    S.SENT_TO_ERP: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.INVOICED, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.INVOICED}),
    S.SHIPPED: frozenset({S.INVOICED, S.CLOSED}),
    S.INVOICED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

# The forward life of an order at the ERP; history shows every stage an order went through.
LIFECYCLE = [
    S.APPROVED,
    S.SENT_TO_ERP,
    S.ACCEPTED,
    S.PARTIALLY_SHIPPED,
    S.SHIPPED,
    S.INVOICED,
    S.CLOSED,
]


class PurchaseOrderLine(TimeStampedModel):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    note = models.CharField(max_length=200, blank=True)
    # Frozen at submit; never recomputed from the live price book afterwards.
    unit_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    price_source = models.CharField(max_length=30, blank=True)
    line_amount = models.DecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS, decimal_places=money.AMOUNT_DECIMAL_PLACES, null=True, blank=True
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "product"], name="po_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="po_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of product {self.product_id}"


class PurchaseOrderStatusChange(models.Model):
    """One row per status change: who, when, from, to, why."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=30, choices=PurchaseOrder.Status.choices)
    to_status = models.CharField(max_length=30, choices=PurchaseOrder.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The buyer an account manager (the actor) acted for; empty when the actor acted for themselves.
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class IdempotencyRecord(models.Model):
    """An API create seen before: the same key returns the same order; the key with another body is a 409."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="idempotency_key_unique_per_company")
        ]

    def __str__(self) -> str:
        return self.key


class LineImport(TimeStampedModel):
    """A large CSV of order lines, added in the background in chunks so the page shows progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Adding lines"
        DONE = "done", "Done"

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="line_imports")
    filename = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    lines = models.JSONField(default=list, help_text="Parsed lines waiting to be added.")
    report = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.filename}: {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        return int(self.done * 100 / self.total) if self.total else 100
