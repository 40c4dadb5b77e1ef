from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from apps.accounts.models import Company, ShipToAddress
from apps.core.csvio import MAX_FILE_BYTES, too_large_message
from apps.purchase_orders.lines import QUANTITY_HELP
from apps.purchase_orders.models import PurchaseOrder


class HeaderForm(forms.ModelForm):
    class Meta:
        model = PurchaseOrder
        fields = ["customer_po_number", "ship_to", "requested_date", "notes"]
        widgets = {
            "requested_date": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        ship_to = self.fields["ship_to"]
        assert isinstance(ship_to, forms.ModelChoiceField)  # noqa: S101 - narrowing for the type checker
        ship_to.queryset = ShipToAddress.objects.filter(company=company, is_active=True)
        # Submitting needs both (purchase_order_submit), so neither is shown as optional; a draft
        # without an address starts on the company's default one.
        ship_to.required = True
        ship_to.empty_label = "Choose an address"
        self.fields["customer_po_number"].required = True
        if not self.is_bound and self.instance.ship_to_id is None:
            self.initial["ship_to"] = (
                ship_to.queryset.filter(is_default=True).values_list("pk", flat=True).first()
            )

    def clean_requested_date(self) -> object:
        requested = self.cleaned_data.get("requested_date")
        if requested is not None and requested < timezone.localdate():
            raise forms.ValidationError("Choose today or a later date.")
        return requested

    def clean_customer_po_number(self) -> str:
        number = self.cleaned_data["customer_po_number"].strip()
        taken = PurchaseOrder.objects.filter(company=self.company, customer_po_number=number)
        if number and taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"Your company already has an order {number}.")
        return number


class QuickOrderForm(forms.Form):
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "SKU-00001 10\nSKU-00002 4"}),
        label="Quick order",
        help_text="One SKU, quantity and note (optional) per line; paste from a spreadsheet. "
        + QUANTITY_HELP,
    )


class CsvForm(forms.Form):
    file = forms.FileField(
        label="CSV file (or Excel .xlsx)",
        help_text=(
            f"CSV, text or Excel (.xlsx), up to {MAX_FILE_BYTES // 1024 // 1024} MB. A header row names the "
            "columns in any order (SKU / Item # / Part number / Artikelnummer, Quantity / Qty / Menge, "
            "Note / Comment; others are ignored); without one: SKU, quantity, note. " + QUANTITY_HELP
        ),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(too_large_message(upload.size))
        return upload
