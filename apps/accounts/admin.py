from __future__ import annotations

from django.contrib import admin

from apps.accounts.models import Company, Invitation, Membership, ShipToAddress


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class ShipToAddressInline(admin.StackedInline):
    model = ShipToAddress
    extra = 0


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "erp_customer_code", "status", "account_manager", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "erp_customer_code"]
    list_select_related = ["account_manager"]
    inlines = [MembershipInline, ShipToAddressInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "role", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__email", "company__name"]
    list_select_related = ["user", "company"]
    raw_id_fields = ["user", "company"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "company", "role", "expires_at", "accepted_at", "revoked_at"]
    search_fields = ["email", "company__name"]
    list_select_related = ["company"]
    exclude = ["token"]


@admin.register(ShipToAddress)
class ShipToAddressAdmin(admin.ModelAdmin):
    list_display = ["label", "company", "city", "country", "is_default", "is_active"]
    search_fields = ["label", "company__name", "city"]
    list_select_related = ["company"]
