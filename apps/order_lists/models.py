from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core import money
from apps.core.models import TimeStampedModel


class OrderList(TimeStampedModel):
    """A buyer's named list of products with default quantities, private or shared with the company.

    Who may do what: ``apps.order_lists.selectors`` (see docs/decisions.md, "Order lists")."""

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Only me"
        COMPANY = "company", "My company"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="order_lists")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="order_lists")
    name = models.CharField(max_length=100)
    visibility = models.CharField(
        max_length=20, choices=Visibility.choices, default=Visibility.PRIVATE, db_index=True
    )
    colleagues_can_edit = models.BooleanField(
        default=False, help_text="Colleagues who see the list may change its lines too."
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="order_list_name_unique_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_shared(self) -> bool:
        return self.visibility == OrderList.Visibility.COMPANY


class OrderListLine(models.Model):
    order_list = models.ForeignKey(OrderList, on_delete=models.CASCADE, related_name="lines")
    # PROTECT: products are never deleted (withdrawn ones turn inactive); a line keeps pointing at them.
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    default_quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    note = models.CharField(max_length=200, blank=True)
    # This company's unit price for the default quantity when the line was added (shown beside today's).
    price_when_added = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order_list", "product"], name="order_list_line_one_per_product"),
            models.CheckConstraint(
                condition=Q(default_quantity__gt=0), name="order_list_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.default_quantity} of product {self.product_id}"
