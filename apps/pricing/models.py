"""What each customer pays: tiers with a default discount, per-SKU tier prices with quantity breaks,
account-specific contract prices, all effective-dated, and the audit log of every change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core import money
from apps.core.models import TimeStampedModel


class PriceTier(TimeStampedModel):
    """A price level (Bronze, Silver, Gold…); its default discount applies to SKUs without a tier price."""

    name = models.CharField(max_length=50, unique=True)
    default_discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent off the list price for products without a tier price.",
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["default_discount_percent", "name"]

    def __str__(self) -> str:
        return self.name


class EffectivePrice(TimeStampedModel):
    """A unit price from a minimum quantity up, valid from one date to another (both inclusive)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    min_quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS,
        decimal_places=money.QUANTITY_DECIMAL_PLACES,
        default=Decimal("1"),
    )
    unit_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    valid_from = models.DateField(default=timezone.localdate)
    valid_to = models.DateField(null=True, blank=True, help_text="Last day the price applies; empty: no end.")

    class Meta:
        abstract = True

    def applies_on(self, on_date: date) -> bool:
        return self.valid_from <= on_date and (self.valid_to is None or on_date <= self.valid_to)


def _price_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(condition=Q(unit_price__gte=0), name=f"{prefix}_price_not_negative"),
        models.CheckConstraint(condition=Q(min_quantity__gt=0), name=f"{prefix}_min_quantity_positive"),
        models.CheckConstraint(
            condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
            name=f"{prefix}_window_ordered",
        ),
    ]


class TierPrice(EffectivePrice):
    tier = models.ForeignKey(PriceTier, on_delete=models.CASCADE, related_name="prices")

    class Meta:
        ordering = ["product__sku", "min_quantity", "valid_from"]
        constraints = _price_constraints("tier_price")
        indexes = [models.Index(fields=["tier", "product", "valid_from"], name="tier_price_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.tier} {self.product_id} ≥{self.min_quantity}: {self.unit_price}"


class ContractPrice(EffectivePrice):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contract_prices")

    class Meta:
        ordering = ["product__sku", "min_quantity", "valid_from"]
        constraints = _price_constraints("contract_price")
        indexes = [
            models.Index(fields=["company", "product", "valid_from"], name="contract_price_lookup_idx")
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.product_id} ≥{self.min_quantity}: {self.unit_price}"


class CompanyPricing(TimeStampedModel):
    """The tier a company buys at (portal-owned)."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="pricing")
    tier = models.ForeignKey(
        PriceTier, on_delete=models.PROTECT, null=True, blank=True, related_name="companies"
    )

    def __str__(self) -> str:
        return f"{self.company} at {self.tier or 'list price'}"


class PriceChange(models.Model):
    """The audit log: who changed which price, when, from what to what."""

    class Kind(models.TextChoices):
        TIER_PRICE = "tier_price", "Tier price"
        CONTRACT_PRICE = "contract_price", "Contract price"
        TIER_ASSIGNMENT = "tier_assignment", "Tier assignment"
        TIER_DEFAULT = "tier_default", "Tier default discount"

    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    tier = models.ForeignKey(PriceTier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    company = models.ForeignKey(Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    description = models.CharField(max_length=300)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    upload = models.ForeignKey(
        "PriceUpload", on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.description}: {self.old_value} → {self.new_value}"


class PriceUpload(TimeStampedModel):
    """A bulk price change by CSV: parsed into a preview, then published (or discarded) as a whole."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Preview"  # parsed and checked; nothing changed yet
        PUBLISHING = "publishing", "Publishing"
        PUBLISHED = "published", "Published"
        DISCARDED = "discarded", "Discarded"

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filename = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREVIEW, db_index=True)
    rows = models.JSONField(default=list, help_text="The valid rows, normalised, as applied on publish.")
    report = models.JSONField(default=list, help_text="One entry per input line: line, ok, message.")
    total_lines = models.PositiveIntegerField(default=0)
    done_lines = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"
