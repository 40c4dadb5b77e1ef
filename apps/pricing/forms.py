from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from apps.catalog.models import Product
from apps.core import money
from apps.pricing.models import PriceTier


class PriceRowForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    min_quantity = forms.DecimalField(
        label="From quantity",
        max_digits=money.QUANTITY_MAX_DIGITS,
        decimal_places=money.QUANTITY_DECIMAL_PLACES,
        initial=Decimal("1"),
        min_value=Decimal("0.0001"),
    )
    unit_price = forms.DecimalField(
        label="Unit price",
        max_digits=money.PRICE_MAX_DIGITS,
        decimal_places=money.PRICE_DECIMAL_PLACES,
        min_value=Decimal("0"),
        error_messages={"min_value": "A price cannot be negative."},
    )
    valid_from = forms.DateField(
        label="Valid from", initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_to = forms.DateField(
        label="Valid to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_sku(self) -> Product:
        sku = self.cleaned_data["sku"].strip()
        product = Product.objects.filter(sku__iexact=sku).first()
        if product is None:
            raise forms.ValidationError(f"No product with SKU {sku}.")
        return product

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("valid_from"), cleaned.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", "The end date is before the start date.")
        return cleaned


class TierAssignForm(forms.Form):
    tier = forms.ModelChoiceField(
        queryset=PriceTier.objects.all(), required=False, empty_label="List price (no tier)"
    )


class TierDefaultForm(forms.Form):
    default_discount_percent = forms.DecimalField(
        label="Default discount %",
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
    )


class PriceUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: tier, company_code, sku, min_quantity, unit_price, valid_from, valid_to. "
        "Give a tier name or a company's customer code on each line, not both.",
    )
