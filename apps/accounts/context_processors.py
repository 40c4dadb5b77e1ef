from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from apps.accounts.models import Role, StaffRole
from apps.accounts.permissions import request_acting, user_membership, user_staff_roles
from apps.core.staff import user_in_quote_approvers


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    section: str


def navigation_for(request: HttpRequest) -> list[NavItem]:
    """The homes and pages this user may reach, in the order the header shows them."""
    user = request.user
    if not user.is_authenticated:
        return []
    items: list[NavItem] = []
    if request_acting(request) is not None:
        # Only the pages that work while acting (docs/decisions.md), then the way back to the accounts.
        return [
            NavItem("Catalog", reverse("buyer-catalog"), "catalog"),
            NavItem("Draft order", reverse("po-builder"), "builder"),
            NavItem("Orders", reverse("po-list"), "orders"),
            NavItem("Accounts", reverse("manager-home"), "manager"),
        ]
    membership = user_membership(user)
    if membership is not None:
        items.append(NavItem("Home", reverse("buyer-home"), "buyer"))
        items.append(NavItem("Catalog", reverse("buyer-catalog"), "catalog"))
        if membership.role in (Role.BUYER, Role.ADMIN):
            items.append(NavItem("Draft order", reverse("po-builder"), "builder"))
        items.append(NavItem("Orders", reverse("po-list"), "orders"))
        items.append(NavItem("Order lists", reverse("order-lists"), "order-lists"))
        items.append(NavItem("Quotes", reverse("quote-list"), "quotes"))
        items.append(NavItem("Invoices", reverse("buyer-invoices"), "invoices"))
        if membership.role in (Role.APPROVER, Role.ADMIN):
            items.append(NavItem("Approvals", reverse("po-approvals"), "approvals"))
        items.append(NavItem("Company", reverse("company-profile"), "company"))
        items.append(NavItem("Ship-to addresses", reverse("company-addresses"), "addresses"))
        if membership.role == Role.ADMIN:
            items.append(NavItem("Users", reverse("company-users"), "users"))
            items.append(NavItem("Approval rules", reverse("approval-rules"), "rules"))
            items.append(NavItem("Company log", reverse("company-log"), "log"))
    roles = user_staff_roles(user)
    admin = StaffRole.ADMIN in roles
    if admin or StaffRole.ACCOUNT_MANAGER in roles:
        items.append(NavItem("Accounts", reverse("manager-home"), "manager"))
        items.append(NavItem("Quotes", reverse("quote-queue"), "quote-queue"))
        items.append(NavItem("Products", reverse("manager-products"), "products"))
        items.append(NavItem("Pricing", reverse("pricing-tiers"), "pricing"))
    if admin or StaffRole.FINANCE in roles:
        items.append(NavItem("Finance", reverse("finance-home"), "finance"))
        items.append(NavItem("Credit holds", reverse("finance-holds"), "holds"))
    if membership is None and user_in_quote_approvers(user):
        items.append(NavItem("Quote approvals", reverse("quote-approvals"), "quote-approvals"))
    if admin:
        items.append(NavItem("ERP sync", reverse("sync-monitor"), "sync"))
        items.append(NavItem("Staff", reverse("staff-home"), "staff"))
    return items


def portal_navigation(request: HttpRequest) -> dict[str, object]:
    return {
        "nav_items": navigation_for(request),
        "current_membership": user_membership(request.user) if hasattr(request, "user") else None,
        "acting": request_acting(request),
    }
