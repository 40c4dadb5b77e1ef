from __future__ import annotations

from django.db import models

from apps.accounts.models import Company
from apps.core import money
from apps.core.models import TimeStampedModel


class PaymentTerm(TimeStampedModel):
    """A payment term as the ERP defines it (Net 30, Net 60, Prepaid, …); mirrored, never edited here."""

    erp_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CreditAccount(TimeStampedModel):
    """The customer's credit standing; the limit and payment term come from the ERP."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="credit_account")
    payment_term = models.ForeignKey(
        PaymentTerm, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_limit = models.DecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS, decimal_places=money.AMOUNT_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)

    def __str__(self) -> str:
        return f"Credit of {self.company}"
