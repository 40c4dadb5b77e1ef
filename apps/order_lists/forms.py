from __future__ import annotations

from django import forms

from apps.core.csvio import MAX_FILE_BYTES, too_large_message
from apps.order_lists.models import OrderList
from apps.purchase_orders.lines import QUANTITY_HELP


class OrderListForm(forms.Form):
    name = forms.CharField(max_length=100, label="List name")
    visibility = forms.ChoiceField(
        choices=OrderList.Visibility.choices, initial=OrderList.Visibility.PRIVATE, label="Who sees it"
    )
    colleagues_can_edit = forms.BooleanField(
        required=False,
        label="Colleagues may change its lines",
        help_text="Only when shared with the company.",
    )


class PasteForm(forms.Form):
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "SKU-00001 10\nSKU-00002 4"}),
        label="Lines to add",
        help_text="One SKU, quantity and note (optional) per line; paste from a spreadsheet. "
        + QUANTITY_HELP,
    )


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file (or Excel .xlsx)",
        help_text=(
            f"CSV, text or Excel (.xlsx), up to {MAX_FILE_BYTES // 1024 // 1024} MB, read as the draft order "
            "reads it: a header row names the columns in any order (SKU / Item # / Part number, Quantity / "
            "Qty / Menge, Note); without one: SKU, quantity, note. " + QUANTITY_HELP
        ),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(too_large_message(upload.size))
        return upload
