from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Company, Role
from apps.catalog.models import Category
from apps.core import money
from apps.core.models import TimeStampedModel
from apps.purchase_orders.models import PurchaseOrder


class ApprovalRule(TimeStampedModel):
    """A company's own rule: when an order matches, someone must approve it before it goes on."""

    class Condition(models.TextChoices):
        TOTAL_AT_LEAST = "total_at_least", "Order total at least"
        LINES_AT_LEAST = "lines_at_least", "At least this many lines"
        CATEGORY_IN = "category_in", "Contains a product of these categories"
        MONTHLY_BUDGET = "monthly_budget", "Buyer's spend this month would pass"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="approval_rules")
    name = models.CharField(max_length=100)
    step = models.PositiveSmallIntegerField(default=1, help_text="Steps run in order, 1 first.")
    condition = models.CharField(max_length=30, choices=Condition.choices)
    amount = models.DecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS, decimal_places=money.AMOUNT_DECIMAL_PLACES, null=True, blank=True
    )
    line_count = models.PositiveIntegerField(null=True, blank=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="+")
    approver_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["step", "name"]

    def __str__(self) -> str:
        return self.name


class ApprovalRequest(TimeStampedModel):
    """One step of one order's approval: who may decide, and what they decided."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for an earlier step"
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"  # closed undecided: the order was cancelled meanwhile

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="approval_requests"
    )
    rule = models.ForeignKey(ApprovalRule, on_delete=models.SET_NULL, null=True, related_name="+")
    step = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=300, help_text="Why the rule matched, as the approver reads it.")
    approver_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["step", "id"]

    def __str__(self) -> str:
        return f"{self.purchase_order} step {self.step}: {self.status}"
