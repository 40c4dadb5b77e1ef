from __future__ import annotations

from django.db import models

from apps.core import money
from apps.core.models import TimeStampedModel


class Category(TimeStampedModel):
    """A product category, mirrored from the ERP."""

    erp_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    """A sellable product. ERP-owned: sku, name, category, unit, list price, active.

    Portal-owned (never written by a pull): the ordering rules below and ``portal_notes``.
    """

    # ERP-owned
    erp_id = models.CharField(max_length=64, unique=True)
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=300)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="products"
    )
    unit = models.CharField(max_length=32)
    list_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    # What one unit costs the wholesaler, where the ERP has it (Tryton's cost price, Business Central's
    # unitCost, Odoo's standard_price): the account manager's margin on a quote. Never shown to buyers.
    cost_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    is_active = models.BooleanField(default=True, db_index=True)
    erp_updated_at = models.DateTimeField(null=True, blank=True, help_text="The ERP's own change time.")
    # Portal-owned
    order_minimum = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES, default=1
    )
    order_increment = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES, default=1
    )
    order_maximum = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS,
        decimal_places=money.QUANTITY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    portal_notes = models.TextField(blank=True)

    # Fields a pull may write; everything else on the model belongs to the portal.
    ERP_FIELDS = (
        "sku",
        "name",
        "category",
        "unit",
        "list_price",
        "cost_price",
        "currency",
        "is_active",
        "erp_updated_at",
    )

    class Meta:
        ordering = ["sku"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockLevel(models.Model):
    """On-hand quantity in the ERP's warehouse, with the ERP time it was read at."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="stock")
    quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    as_of = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.product.sku}: {self.quantity} as of {self.as_of:%Y-%m-%d %H:%M}"
