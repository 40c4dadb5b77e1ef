from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from apps.accounts.models import Company, ShipToAddress
from apps.catalog.models import Product
from apps.catalog.selectors import products_by_sku
from apps.core import money
from apps.purchase_orders import lines as parsing
from apps.quotes.services import OfferedLine, RequestedLine, local_today

BREAK_ROWS = 2  # quantity breaks offered per line; more is a new version


class _WantedDate(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Message to your account manager",
    )
    wanted_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Wanted by"
    )

    def __init__(self, *args: Any, time_zone: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone = time_zone

    def clean_wanted_date(self) -> date | None:
        wanted: date | None = self.cleaned_data.get("wanted_date")
        today = local_today(self.time_zone, timezone.now()) if self.time_zone else timezone.localdate()
        if wanted is not None and wanted < today:
            raise forms.ValidationError("Choose today or a later date.")
        return wanted


class FromDraftForm(_WantedDate):
    """Turn the draft order into a request for quote."""


class RequestForm(_WantedDate):
    """A request from a few catalog lines, read like the quick order (``lines.parse_paste``)."""

    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "SKU-00001 500\nSKU-00002 1200"}),
        label="Products and quantities",
        help_text="One SKU and quantity (and an optional note) per line, read like the quick order: "
        "1000, 2.5 or 2,5; thousands may be grouped as 1,000.50 / 1.000,50 / 1 000.",
    )
    field_order = ["lines", "message", "wanted_date"]

    def clean_lines(self) -> list[RequestedLine]:
        parsed = parsing.parse_paste(self.cleaned_data["lines"])
        if parsed.error:
            raise forms.ValidationError(parsed.error)
        refused = [f"{entry.where}: {entry.message}" for entry in parsed.report if not entry.ok]
        products = products_by_sku(line.sku for line in parsed.lines)
        requested: list[RequestedLine] = []
        for line in parsed.lines:
            product = products.get(line.sku.upper())
            if product is None:
                refused.append(f"Line {line.line}: {line.sku}: unknown SKU.")
            elif not product.is_active:
                refused.append(f"Line {line.line}: {line.sku}: no longer sold.")
            else:
                requested.append(RequestedLine(product, line.quantity, line.note))
        if refused:
            raise forms.ValidationError(refused)
        if not requested:
            raise forms.ValidationError("Give at least one SKU and quantity.")
        return requested


class StartForm(RequestForm):
    """An account manager starts a quote for one of their companies."""

    company = forms.ModelChoiceField(queryset=Company.objects.none(), empty_label="Choose a company")
    field_order = ["company", "lines", "message", "wanted_date"]

    def __init__(self, *args: Any, companies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        company = self.fields["company"]
        assert isinstance(company, forms.ModelChoiceField)  # noqa: S101 - narrowing for the type checker
        company.queryset = companies
        self.fields["message"].label = "Message to the buyer"

    def clean_wanted_date(self) -> date | None:
        """Today is the chosen company's today (its own time zone), not the portal's."""
        chosen = self.cleaned_data.get("company")
        if chosen is not None:
            self.time_zone = chosen.time_zone
        return super().clean_wanted_date()


class MessageForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Message")


class CounterForm(MessageForm):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What would you like changed?")


class DeclineForm(MessageForm):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why is it declined?")


class CloseForm(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Why not? (the seller is told)"
    )


class AcceptForm(forms.Form):
    customer_po_number = forms.CharField(
        max_length=50, required=False, label="Your PO number", help_text="Left empty: the quote's number."
    )
    ship_to = forms.ModelChoiceField(
        queryset=ShipToAddress.objects.none(), empty_label="Choose an address", label="Ship to"
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ship_to = self.fields["ship_to"]
        assert isinstance(ship_to, forms.ModelChoiceField)  # noqa: S101 - narrowing for the type checker
        ship_to.queryset = ShipToAddress.objects.filter(company=company, is_active=True)
        if not self.is_bound:
            self.initial["ship_to"] = (
                ship_to.queryset.filter(is_default=True).values_list("pk", flat=True).first()
            )


def _quantity(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=money.QUANTITY_MAX_DIGITS,
        decimal_places=money.QUANTITY_DECIMAL_PLACES,
    )


def _price(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=money.PRICE_MAX_DIGITS,
        decimal_places=money.PRICE_DECIMAL_PLACES,
    )


class OfferForm(forms.Form):
    """One row per product offered: quantity, unit price and up to ``BREAK_ROWS`` quantity breaks; a row
    whose price is left empty is not offered."""

    valid_until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Valid until")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Note to the buyer"
    )

    def __init__(self, *args: Any, products: list[Product], time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.products = products
        self.time_zone = time_zone
        for product in products:
            self.fields[f"quantity_{product.pk}"] = _quantity(f"Quantity of {product.sku}")
            self.fields[f"price_{product.pk}"] = _price(f"Unit price of {product.sku}")
            for n in range(1, BREAK_ROWS + 1):
                self.fields[f"break_quantity_{product.pk}_{n}"] = _quantity(
                    f"Break {n} quantity of {product.sku}"
                )
                self.fields[f"break_price_{product.pk}_{n}"] = _price(
                    f"Break {n} unit price of {product.sku}"
                )

    def clean_valid_until(self) -> date:
        valid_until: date = self.cleaned_data["valid_until"]
        if valid_until < local_today(self.time_zone, timezone.now()):
            raise forms.ValidationError("That day is past: an offer must be valid until today or later.")
        return valid_until

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        offered = 0
        for product in self.products:
            price = data.get(f"price_{product.pk}")
            quantity = data.get(f"quantity_{product.pk}")
            if price is None:
                continue
            offered += 1
            if price <= 0:
                self.add_error(f"price_{product.pk}", f"{product.sku}: the price must be more than zero.")
            if quantity is None or quantity <= 0:
                self.add_error(
                    f"quantity_{product.pk}", f"{product.sku}: the quantity must be more than zero."
                )
            for n in range(1, BREAK_ROWS + 1):
                minimum = data.get(f"break_quantity_{product.pk}_{n}")
                break_price = data.get(f"break_price_{product.pk}_{n}")
                if (minimum is None) != (break_price is None):
                    self.add_error(
                        f"break_price_{product.pk}_{n}",
                        f"{product.sku}: a break needs a quantity and a price.",
                    )
                elif break_price is not None and break_price <= 0:
                    self.add_error(
                        f"break_price_{product.pk}_{n}", f"{product.sku}: the price must be more than zero."
                    )
        if not offered:
            raise forms.ValidationError("Give a unit price for at least one line.")
        return data

    def offered_lines(self) -> list[OfferedLine]:
        lines = []
        for product in self.products:
            price: Decimal | None = self.cleaned_data.get(f"price_{product.pk}")
            if price is None:
                continue
            breaks = []
            for n in range(1, BREAK_ROWS + 1):
                minimum = self.cleaned_data.get(f"break_quantity_{product.pk}_{n}")
                break_price = self.cleaned_data.get(f"break_price_{product.pk}_{n}")
                if minimum is not None and break_price is not None:
                    breaks.append((minimum, break_price))
            lines.append(OfferedLine(product, self.cleaned_data[f"quantity_{product.pk}"], price, breaks))
        return lines
