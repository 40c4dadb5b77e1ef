"""Django admin for credit data. Mirrored ERP data is read-only here (the ERP owns it); credit-hold
decisions are made in finance's queue, so they are read-only too (the audit record)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.credit.models import CreditAccount, CreditHold, Invoice, InvoiceLine, InvoicePayment, PaymentTerm


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PaymentTerm)
class PaymentTermAdmin(ReadOnlyAdmin):
    list_display = ["name", "net_days", "erp_id"]


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ["company", "credit_limit", "currency", "payment_term", "past_due_tolerance_days"]
    search_fields = ["company__name", "company__erp_customer_code"]
    readonly_fields = ["company", "credit_limit", "currency", "payment_term"]  # the ERP owns these

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = readonly_fields = (
        "position",
        "sku",
        "product",
        "description",
        "quantity",
        "unit_price",
        "amount",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvoicePaymentInline(admin.TabularInline):
    model = InvoicePayment
    fields = readonly_fields = ("paid_on", "amount", "reference")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "company", "invoice_date", "due_date", "total_amount", "amount_paid", "state"]
    list_filter = ["state"]
    search_fields = ["number", "company__name", "erp_id"]
    inlines = [InvoiceLineInline, InvoicePaymentInline]


@admin.register(CreditHold)
class CreditHoldAdmin(ReadOnlyAdmin):
    list_display = ["purchase_order", "company", "status", "order_amount", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["purchase_order__customer_po_number", "company__name"]
