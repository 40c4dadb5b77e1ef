from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client

from apps.accounts.models import Company, Invitation, Membership, Role, ShipToAddress, StaffRole
from tests.accounts.factories import ShipToAddressFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client: Client, company_admin: Membership) -> Client:
    client.force_login(company_admin.user)
    return client


def test_invite_by_htmx_returns_the_invitations_fragment_with_a_flash(
    admin_client: Client, company: Company, django_capture_on_commit_callbacks: Callable
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/company/users/invite/", {"email": "bea@example.com", "role": "buyer"}, **HTMX
        )

    html = response.content.decode()
    assert response.status_code == 200
    assert '<section class="card" id="invitations">' in html
    assert "<html" not in html
    assert "bea@example.com" in html
    assert 'hx-swap-oob="true"' in html
    assert "Invitation sent to bea@example.com." in html
    assert len(mail.outbox) == 1


def test_invite_with_bad_email_shows_field_error_and_creates_nothing(admin_client: Client) -> None:
    response = admin_client.post("/company/users/invite/", {"email": "not-an-email", "role": "buyer"})

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert not Invitation.objects.exists()


def test_role_change_refused_for_last_admin_shows_reason_in_the_row(
    admin_client: Client, company_admin: Membership
) -> None:
    response = admin_client.post(f"/company/users/{company_admin.pk}/role/", {"role": "viewer"}, **HTMX)

    assert response.status_code == 200
    assert "at least one active admin" in response.content.decode()
    company_admin.refresh_from_db()
    assert company_admin.role == Role.ADMIN


def test_address_add_by_htmx_swaps_the_table_and_clears_the_editor(
    admin_client: Client, company: Company
) -> None:
    response = admin_client.post(
        "/company/addresses/add/",
        {"label": "Dock 9", "street": "9 Pier Rd", "city": "Boston", "postal_code": "02110", "country": "us"},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#address-table"
    assert '<div id="address-editor" hx-swap-oob="true"></div>' in html
    assert "Dock 9" in html
    address = ShipToAddress.objects.get(company=company)
    assert address.country == "US"
    assert address.is_default


def test_address_with_bad_country_keeps_the_input_and_saves_nothing(admin_client: Client) -> None:
    response = admin_client.post(
        "/company/addresses/add/",
        {"label": "Dock 9", "street": "9 Pier Rd", "city": "Boston", "postal_code": "02110", "country": "1"},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "two-letter ISO country code" in html
    assert 'value="9 Pier Rd"' in html
    assert not ShipToAddress.objects.exists()


def test_address_duplicate_label_is_a_form_error_not_a_500(admin_client: Client, company: Company) -> None:
    ShipToAddressFactory(company=company, label="Dock 9", is_default=True)

    response = admin_client.post(
        "/company/addresses/add/",
        {"label": "Dock 9", "street": "9 Pier Rd", "city": "Boston", "postal_code": "02110", "country": "US"},
    )

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert ShipToAddress.objects.filter(company=company).count() == 1


def test_buyer_home_shows_hold_reason(client: Client, company: Company, member_factory: Callable) -> None:
    company.status = Company.Status.ON_HOLD
    company.hold_reason = "Invoice 1042 is 75 days past due."
    company.save()
    client.force_login(member_factory(company, Role.BUYER).user)

    html = client.get("/buyer/").content.decode()

    assert "Your account is on hold." in html
    assert "Invoice 1042 is 75 days past due." in html


def test_finance_hold_without_reason_changes_nothing(
    client: Client, company: Company, staff_factory: Callable
) -> None:
    client.force_login(staff_factory(StaffRole.FINANCE))

    response = client.post(f"/finance/companies/{company.pk}/hold/", {"reason": ""}, **HTMX)

    assert "Give a reason" in response.content.decode()
    company.refresh_from_db()
    assert company.status == Company.Status.ACTIVE


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            Role.ADMIN,
            [
                "Home",
                "Catalog",
                "Draft order",
                "Orders",
                "Order lists",
                "Quotes",
                "Invoices",
                "Approvals",
                "Company",
                "Ship-to addresses",
                "Users",
                "Approval rules",
                "Company log",
            ],
        ),
        (
            Role.BUYER,
            [
                "Home",
                "Catalog",
                "Draft order",
                "Orders",
                "Order lists",
                "Quotes",
                "Invoices",
                "Company",
                "Ship-to addresses",
            ],
        ),
        (
            Role.VIEWER,
            [
                "Home",
                "Catalog",
                "Orders",
                "Order lists",
                "Quotes",
                "Invoices",
                "Company",
                "Ship-to addresses",
            ],
        ),
    ],
)
def test_navigation_follows_company_role(
    client: Client, company: Company, member_factory: Callable, role: Role, expected: list[str]
) -> None:
    client.force_login(member_factory(company, role).user)

    response = client.get("/buyer/")

    assert [item.label for item in response.context["nav_items"]] == expected


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([StaffRole.ACCOUNT_MANAGER], ["Accounts", "Quotes", "Products", "Pricing"]),
        ([StaffRole.FINANCE], ["Finance", "Credit holds"]),
        (
            [StaffRole.ADMIN],
            [
                "Accounts",
                "Quotes",
                "Products",
                "Pricing",
                "Finance",
                "Credit holds",
                "Quote approvals",
                "ERP sync",
                "Staff",
            ],
        ),
        (
            [StaffRole.ACCOUNT_MANAGER, StaffRole.FINANCE],
            ["Accounts", "Quotes", "Products", "Pricing", "Finance", "Credit holds"],
        ),
    ],
)
def test_navigation_follows_staff_roles(
    client: Client, staff_factory: Callable, roles: list[StaffRole], expected: list[str]
) -> None:
    client.force_login(staff_factory(*roles))

    response = client.get("/", follow=True)

    assert [item.label for item in response.context["nav_items"]] == expected


def test_account_manager_sees_only_assigned_accounts(
    client: Client,
    company: Company,
    other_company: Company,
    staff_factory: Callable,
    django_assert_max_num_queries: Callable,
) -> None:
    manager = staff_factory(StaffRole.ACCOUNT_MANAGER)
    company.account_manager = manager
    company.save()
    client.force_login(manager)

    with django_assert_max_num_queries(8):
        html = client.get("/manager/").content.decode()

    assert company.name in html
    assert other_company.name not in html


def test_manager_list_query_count_does_not_grow_with_accounts(
    client: Client, staff_factory: Callable, django_assert_max_num_queries: Callable
) -> None:
    from tests.accounts.factories import CompanyFactory, MembershipFactory

    client.force_login(staff_factory(StaffRole.ADMIN))
    for _ in range(30):
        company = CompanyFactory()
        MembershipFactory(company=company)
        ShipToAddressFactory(company=company)

    with django_assert_max_num_queries(10):
        response = client.get("/manager/")
    assert response.status_code == 200
    assert response.content.decode().count('href="/manager/companies/') == 30
